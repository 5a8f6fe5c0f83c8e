"""Annotation queues: people label spans or traces with the project's score configs.

``queues`` creates a queue from a trace filter or a sampling rule's judged spans and reports
its progress; ``reviews`` hands each reviewer the next item and stores their label (scores with
source ``annotation``) or skip; ``content`` reads what a reviewer sees and, once they labelled,
the judge's verdict; ``export`` turns the labelled items into a dataset version.
"""
