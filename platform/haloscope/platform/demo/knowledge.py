"""The demo app's knowledge base and the questions its simulated users ask."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Doc:
    """A knowledge-base passage."""

    id: str
    content: str


@dataclass(frozen=True)
class Question:
    """A user question, the faithful answer, and a hallucinated variant of it."""

    text: str
    faithful: str
    hallucinated: str
    needs_order_lookup: bool = False


DOCS: tuple[Doc, ...] = (
    Doc(
        "kb-refunds",
        "Refunds are issued to the original payment method within 5 business days "
        "of the returned item reaching our warehouse.",
    ),
    Doc(
        "kb-returns",
        "Items can be returned within 30 days of delivery. Opened electronics can "
        "be returned within 14 days and incur a 10% restocking fee.",
    ),
    Doc(
        "kb-shipping",
        "Standard shipping takes 3 to 5 business days. Express shipping takes 1 to "
        "2 business days and costs 12 euros.",
    ),
    Doc(
        "kb-warranty",
        "All Nimbus devices carry a two-year limited warranty covering "
        "manufacturing defects. Water damage is not covered.",
    ),
    Doc(
        "kb-battery",
        "The Nimbus X2 battery lasts up to 18 hours of mixed use and charges to 80% "
        "in 45 minutes with the bundled 30 W charger.",
    ),
    Doc(
        "kb-pairing",
        "To pair Nimbus earbuds, open the case, hold the button for 3 seconds until "
        "the light blinks white, then select Nimbus in Bluetooth settings.",
    ),
    Doc(
        "kb-subscription",
        "Nimbus Plus costs 4.99 euros per month, includes cloud backup of 200 "
        "GB and can be cancelled at any time from the account page.",
    ),
    Doc(
        "kb-stores",
        "Nimbus has physical stores in Berlin, Lisbon and Warsaw, open Monday to "
        "Saturday from 10:00 to 19:00.",
    ),
    Doc(
        "kb-orders",
        "Order status can be checked with the order number from the confirmation "
        "email. Orders ship from the Rotterdam warehouse.",
    ),
    Doc(
        "kb-privacy",
        "Voice recordings are processed on the device and are never uploaded "
        "unless the user enables cloud transcription.",
    ),
)

QUESTIONS: tuple[Question, ...] = (
    Question(
        "How long do refunds take?",
        "Refunds reach your original payment method within 5 business days after the "
        "return arrives at our warehouse.",
        "Refunds are issued as store credit within 24 hours.",
    ),
    Question(
        "Can I return opened headphones?",
        "Yes, opened electronics can be returned within 14 days with a 10% restocking fee.",
        "Opened electronics can be returned within 60 days at no cost.",
    ),
    Question(
        "How fast is express shipping?",
        "Express shipping takes 1 to 2 business days and costs 12 euros.",
        "Express shipping is free and arrives the same day.",
    ),
    Question(
        "Does the warranty cover water damage?",
        "No. The two-year limited warranty covers manufacturing defects, not water damage.",
        "Yes, the five-year warranty covers water damage.",
    ),
    Question(
        "How long does the X2 battery last?",
        "Up to 18 hours of mixed use; it charges to 80% in 45 minutes with the 30 W charger.",
        "The X2 battery lasts 40 hours and charges fully in 10 minutes.",
    ),
    Question(
        "How do I pair my earbuds?",
        "Open the case, hold the button for 3 seconds until the light blinks white, then "
        "pick Nimbus in your Bluetooth settings.",
        "Pairing requires the Nimbus desktop app and a USB cable.",
    ),
    Question(
        "What does Nimbus Plus cost?",
        "Nimbus Plus is 4.99 euros a month with 200 GB of cloud backup, cancel any time.",
        "Nimbus Plus costs 9.99 euros a month with unlimited storage and a yearly contract.",
    ),
    Question(
        "Where are your stores?",
        "We have stores in Berlin, Lisbon and Warsaw, open Monday to Saturday 10:00-19:00.",
        "Our stores are in Paris and Madrid and open every day until midnight.",
    ),
    Question(
        "Where is my order 48213?",
        "Order 48213 has shipped from our Rotterdam warehouse and is on its way.",
        "Order 48213 was cancelled because the item is discontinued.",
        needs_order_lookup=True,
    ),
    Question(
        "Are my voice recordings uploaded?",
        "No, recordings are processed on the device unless you enable cloud transcription.",
        "Yes, all recordings are uploaded to improve our models.",
    ),
)
