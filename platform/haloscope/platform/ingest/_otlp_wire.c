/*
 * Compiled fast path of the OTLP trace decoder: one pass over the protobuf bytes of an
 * ExportTraceServiceRequest straight to the Python values the span mapping reads.
 *
 * It reads exactly the fields of otlp_view.py, with the same meaning, and routes each span's
 * attributes into column slots like otlp_view.route_attributes. It only handles well-formed
 * requests: for anything unusual (malformed or truncated bytes, text that is not UTF-8, a
 * singular message or oneof value repeated, group wire types, deep nesting) it declines by
 * raising the declined type given to set_types (errors.FastPathDeclined), and the caller
 * decodes the request with the Python view instead, which gives the exact error or rejection.
 * Declining is always safe; the equivalence tests in tests/api/test_otlp_wire.py compare both
 * paths. Any other exception (a bad slot table, no memory) is an error and propagates.
 *
 *   set_types(record_type, declined_type)  once, before decode (see otlp_record.py)
 *   decode(body, slots, n_slots) -> list of resources
 *   resource = (attributes: dict, [(scope name, scope version, [span record, ...]), ...])
 *   span record = an instance of record_type (otlp_record.SpanRecord), each field filled by
 *                 name (field_names below) at the position record_type._fields gives it
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define WT_VARINT 0
#define WT_I64 1
#define WT_LEN 2
#define WT_I32 5
#define MAX_DEPTH 32
#define MAX_SLOTS 64

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Reader;

/* Failure without a Python exception means "decline"; with one, it is raised or (for a
 * UnicodeDecodeError) turned into a decline at the top. */
#define FAIL (-1)

static int read_varint(Reader *r, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t byte = *r->p++;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return FAIL;
}

static int read_tag(Reader *r, uint32_t *field, int *wire_type) {
    uint64_t tag;
    if (read_varint(r, &tag) < 0 || tag > 0xFFFFFFFFu) return FAIL;
    *field = (uint32_t)(tag >> 3);
    *wire_type = (int)(tag & 7);
    return *field == 0 ? FAIL : 0;
}

/* A length-delimited field's contents as a sub-reader. */
static int read_len(Reader *r, Reader *out) {
    uint64_t n;
    if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p)) return FAIL;
    out->p = r->p;
    out->end = r->p + n;
    r->p += n;
    return 0;
}

static int read_fixed64(Reader *r, uint64_t *out) {
    if (r->end - r->p < 8) return FAIL;
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = value << 8 | r->p[i];
    r->p += 8;
    *out = value;
    return 0;
}

static int skip_field(Reader *r, int wire_type) {
    uint64_t ignored;
    Reader sub;
    switch (wire_type) {
    case WT_VARINT:
        return read_varint(r, &ignored);
    case WT_I64:
        return read_fixed64(r, &ignored);
    case WT_LEN:
        return read_len(r, &sub);
    case WT_I32:
        if (r->end - r->p < 4) return FAIL;
        r->p += 4;
        return 0;
    default: /* groups (3, 4) and invalid wire types */
        return FAIL;
    }
}

static PyObject *text(Reader s) {
    return PyUnicode_DecodeUTF8((const char *)s.p, s.end - s.p, NULL);
}

static PyObject *raw_bytes(Reader s) {
    return PyBytes_FromStringAndSize((const char *)s.p, s.end - s.p);
}

static PyObject *hex_text(Reader s) {
    static const char digits[] = "0123456789abcdef";
    Py_ssize_t n = s.end - s.p;
    PyObject *out = PyUnicode_New(2 * n, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *chars = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        chars[2 * i] = digits[s.p[i] >> 4];
        chars[2 * i + 1] = digits[s.p[i] & 15];
    }
    return out;
}

/* Replace *slot (owned) with value (a new reference, NULL on failure). */
static int set_owned(PyObject **slot, PyObject *value) {
    if (value == NULL) return FAIL;
    Py_XSETREF(*slot, value);
    return 0;
}

static PyObject *any_value(Reader r, int depth);

/* A KeyValue message: its key and value. A repeated value declines (protobuf would merge). */
static int key_value(Reader r, int depth, int strict_entry, PyObject **key, PyObject **value) {
    uint32_t field;
    int wire_type;
    *key = NULL;
    *value = NULL;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        Reader s;
        if (field == 1 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || set_owned(key, text(s)) < 0) goto fail;
        } else if (field == 2 && wire_type == WT_LEN) {
            if (*value != NULL || read_len(&r, &s) < 0) goto fail;
            if ((*value = any_value(s, depth + 1)) == NULL) goto fail;
        } else if (strict_entry || field <= 2) {
            /* The view reads attributes as map entries, and upb drops an entry with unknown
             * fields from the map: left to the Python path. */
            goto fail;
        } else if (skip_field(&r, wire_type) < 0) {
            goto fail;
        }
    }
    if (*key == NULL && (*key = PyUnicode_New(0, 0)) == NULL) goto fail;
    if (*value == NULL) *value = Py_NewRef(Py_None);
    return 0;
fail:
    Py_CLEAR(*key);
    Py_CLEAR(*value);
    return FAIL;
}

/* Repeated KeyValue fields as a dict (a repeated key keeps its last value). */
static int add_key_value(PyObject *dict, Reader s, int depth, int strict_entry) {
    PyObject *key, *value;
    if (key_value(s, depth, strict_entry, &key, &value) < 0) return FAIL;
    int status = PyDict_SetItem(dict, key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return status;
}

/* Append item (a new reference, NULL on failure) to list, consuming it. */
static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) return FAIL;
    int status = PyList_Append(list, item);
    Py_DECREF(item);
    return status;
}

/* An ArrayValue as a list, or a KeyValueList as a dict: both repeat field 1. */
static PyObject *collection(Reader r, int depth, int as_dict) {
    PyObject *out = as_dict ? PyDict_New() : PyList_New(0);
    if (out == NULL) return NULL;
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        Reader s;
        if (field == 1 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0) goto fail;
            int status = as_dict ? add_key_value(out, s, depth, 0)
                                 : append_new(out, any_value(s, depth + 1));
            if (status < 0) goto fail;
        } else if (field == 1 || skip_field(&r, wire_type) < 0) {
            goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* An AnyValue as otlp_view.any_value reads it; None when no value is set. */
static PyObject *any_value(Reader r, int depth) {
    if (depth > MAX_DEPTH) return NULL;
    PyObject *value = NULL;
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        if (field > 7) {
            if (skip_field(&r, wire_type) < 0) goto fail;
            continue;
        }
        if (value != NULL) goto fail; /* a second oneof value */
        uint64_t number;
        Reader s;
        if (field == 1 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0) goto fail;
            value = text(s);
        } else if (field == 2 && wire_type == WT_VARINT) {
            if (read_varint(&r, &number) < 0) goto fail;
            value = PyBool_FromLong(number != 0);
        } else if (field == 3 && wire_type == WT_VARINT) {
            if (read_varint(&r, &number) < 0) goto fail;
            value = PyLong_FromLongLong((long long)(int64_t)number);
        } else if (field == 4 && wire_type == WT_I64) {
            double real;
            if (read_fixed64(&r, &number) < 0) goto fail;
            memcpy(&real, &number, sizeof real);
            value = PyFloat_FromDouble(real);
        } else if ((field == 5 || field == 6) && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0) goto fail;
            value = collection(s, depth, field == 6);
        } else if (field == 7 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0) goto fail;
            value = hex_text(s);
        } else {
            goto fail; /* a known field with the wrong wire type */
        }
        if (value == NULL) return NULL;
    }
    return value != NULL ? value : Py_NewRef(Py_None);
fail:
    Py_XDECREF(value);
    return NULL;
}

/* Decode the attribute map entry in s into dict (span, event or resource attributes). */
static int attribute(PyObject *dict, Reader *r) {
    Reader s;
    if (read_len(r, &s) < 0) return FAIL;
    return add_key_value(dict, s, 0, 1);
}

static int is_empty_text(PyObject *value) {
    return PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) == 0;
}

/* Sort a span's attributes into slot values by precedence, the rest into a dict, as
 * otlp_view.route_attributes does. Returns a new (values, rest) pair via the out pointers. */
static int route(PyObject *attributes, PyObject *slots, Py_ssize_t n_slots, PyObject **values,
                 PyObject **rest) {
    long ranks[MAX_SLOTS];
    PyObject *owners[MAX_SLOTS] = {NULL};
    *values = PyList_New(n_slots);
    *rest = PyDict_New();
    if (*values == NULL || *rest == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n_slots; i++) {
        PyList_SET_ITEM(*values, i, Py_NewRef(Py_None));
        ranks[i] = LONG_MAX;
    }
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(attributes, &position, &key, &value)) {
        PyObject *slot = PyDict_GetItemWithError(slots, key);
        if (slot == NULL && PyErr_Occurred()) goto fail;
        if (slot == NULL || value == Py_None || is_empty_text(value)) {
            if (PyDict_SetItem(*rest, key, value) < 0) goto fail;
            continue;
        }
        if (!PyTuple_CheckExact(slot) || PyTuple_GET_SIZE(slot) != 2) {
            PyErr_Format(PyExc_TypeError, "slots[%R] must be an (index, rank) tuple", key);
            goto fail;
        }
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(slot, 0));
        long rank = PyLong_AsLong(PyTuple_GET_ITEM(slot, 1));
        if (PyErr_Occurred()) goto fail;
        if (index < 0 || index >= n_slots) {
            PyErr_Format(PyExc_ValueError, "slots[%R] names slot %zd of %zd", key, index, n_slots);
            goto fail;
        }
        if (rank < ranks[index]) {
            if (owners[index] != NULL &&
                PyDict_SetItem(*rest, owners[index], PyList_GET_ITEM(*values, index)) < 0)
                goto fail;
            PyList_SetItem(*values, index, Py_NewRef(value));
            ranks[index] = rank;
            owners[index] = key; /* borrowed from attributes, which outlives this loop */
        } else if (PyDict_SetItem(*rest, key, value) < 0) {
            goto fail;
        }
    }
    return 0;
fail:
    Py_CLEAR(*values);
    Py_CLEAR(*rest);
    return FAIL;
}

static PyObject *event(Reader r) {
    PyObject *name = NULL, *attributes = PyDict_New();
    if (attributes == NULL) return NULL;
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        Reader s;
        if (field == 2 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || set_owned(&name, text(s)) < 0) goto fail;
        } else if (field == 3 && wire_type == WT_LEN) {
            if (attribute(attributes, &r) < 0) goto fail;
        } else if (field == 2 || field == 3 || skip_field(&r, wire_type) < 0) {
            goto fail;
        }
    }
    if (name == NULL && (name = PyUnicode_New(0, 0)) == NULL) goto fail;
    return Py_BuildValue("(NN)", name, attributes);
fail:
    Py_XDECREF(name);
    Py_DECREF(attributes);
    return NULL;
}

/* A Status message: its code (an int32 on the wire) and message. */
static int status(Reader r, int32_t *code, PyObject **message) {
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) return FAIL;
        Reader s;
        uint64_t number;
        if (field == 2 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || set_owned(message, text(s)) < 0) return FAIL;
        } else if (field == 3 && wire_type == WT_VARINT) {
            if (read_varint(&r, &number) < 0) return FAIL;
            *code = (int32_t)number;
        } else if (field == 2 || field == 3 || skip_field(&r, wire_type) < 0) {
            return FAIL;
        }
    }
    return 0;
}

/* The span record's fields, by name; set_types maps each to its position in the record. */
enum {
    F_TRACE_ID, F_SPAN_ID, F_PARENT_ID, F_NAME, F_START, F_END, F_SLOTS, F_ATTRIBUTES,
    F_EVENTS, F_STATUS_CODE, F_STATUS_MESSAGE, N_FIELDS
};
static const char *const field_names[N_FIELDS] = {
    "trace_id", "span_id", "parent_span_id", "name", "start_time_unix_nano",
    "end_time_unix_nano", "slots", "attributes", "events", "status_code", "status_message",
};
static PyTypeObject *record_type;     /* owned; NULL until set_types */
static PyObject *declined_type;       /* owned */
static Py_ssize_t positions[N_FIELDS]; /* field -> index in record_type */

/* A record of record_type holding items (new references, all consumed). Allocated as
 * tuple.__new__ does for a tuple subclass: set_types checked that the type is one with the
 * tuple's layout, so its (Python) __new__ would only do the same. */
static PyObject *new_record(PyObject *items[N_FIELDS]) {
    PyObject *record = record_type->tp_alloc(record_type, N_FIELDS);
    for (int i = 0; i < N_FIELDS; i++) {
        if (record == NULL)
            Py_DECREF(items[i]);
        else
            PyTuple_SET_ITEM(record, positions[i], items[i]);
    }
    return record;
}

static PyObject *span(Reader r, PyObject *slots, Py_ssize_t n_slots) {
    PyObject *items[N_FIELDS] = {NULL};
    PyObject *attributes = PyDict_New();
    uint64_t start = 0, end = 0;
    int32_t code = 0;
    int seen_status = 0;
    items[F_EVENTS] = PyList_New(0);
    if (attributes == NULL || items[F_EVENTS] == NULL) goto fail;
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        Reader s;
        int id = field == 1 ? F_TRACE_ID : field == 2 ? F_SPAN_ID : field == 4 ? F_PARENT_ID : -1;
        if (id >= 0 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || set_owned(&items[id], raw_bytes(s)) < 0) goto fail;
        } else if (field == 5 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || set_owned(&items[F_NAME], text(s)) < 0) goto fail;
        } else if ((field == 7 || field == 8) && wire_type == WT_I64) {
            if (read_fixed64(&r, field == 7 ? &start : &end) < 0) goto fail;
        } else if (field == 9 && wire_type == WT_LEN) {
            if (attribute(attributes, &r) < 0) goto fail;
        } else if (field == 11 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || append_new(items[F_EVENTS], event(s)) < 0) goto fail;
        } else if (field == 15 && wire_type == WT_LEN) {
            if (seen_status || read_len(&r, &s) < 0) goto fail; /* protobuf would merge */
            seen_status = 1;
            if (status(s, &code, &items[F_STATUS_MESSAGE]) < 0) goto fail;
        } else if (id >= 0 || (field >= 5 && field <= 15 && field != 6 && field != 10 &&
                               field != 12 && field != 13 && field != 14)) {
            goto fail; /* a field the view reads, with the wrong wire type */
        } else if (skip_field(&r, wire_type) < 0) {
            goto fail;
        }
    }
    for (int i = F_TRACE_ID; i <= F_PARENT_ID; i++)
        if (items[i] == NULL && (items[i] = PyBytes_FromStringAndSize(NULL, 0)) == NULL)
            goto fail;
    if (items[F_NAME] == NULL && (items[F_NAME] = PyUnicode_New(0, 0)) == NULL) goto fail;
    if (items[F_STATUS_MESSAGE] == NULL && (items[F_STATUS_MESSAGE] = PyUnicode_New(0, 0)) == NULL)
        goto fail;
    if ((items[F_START] = PyLong_FromUnsignedLongLong(start)) == NULL ||
        (items[F_END] = PyLong_FromUnsignedLongLong(end)) == NULL ||
        (items[F_STATUS_CODE] = PyLong_FromLong(code)) == NULL ||
        route(attributes, slots, n_slots, &items[F_SLOTS], &items[F_ATTRIBUTES]) < 0)
        goto fail;
    Py_DECREF(attributes);
    return new_record(items);
fail:
    for (int i = 0; i < N_FIELDS; i++) Py_XDECREF(items[i]);
    Py_XDECREF(attributes);
    return NULL;
}

/* InstrumentationScope: name and version into the two owned pointers. */
static int scope(Reader r, PyObject **name, PyObject **version) {
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) return FAIL;
        Reader s;
        if ((field == 1 || field == 2) && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || set_owned(field == 1 ? name : version, text(s)) < 0)
                return FAIL;
        } else if (field == 1 || field == 2 || skip_field(&r, wire_type) < 0) {
            return FAIL;
        }
    }
    return 0;
}

static PyObject *scope_spans(Reader r, PyObject *slots, Py_ssize_t n_slots) {
    PyObject *name = NULL, *version = NULL, *spans = PyList_New(0);
    int seen_scope = 0;
    if (spans == NULL) return NULL;
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        Reader s;
        if (field == 1 && wire_type == WT_LEN) {
            if (seen_scope || read_len(&r, &s) < 0 || scope(s, &name, &version) < 0) goto fail;
            seen_scope = 1;
        } else if (field == 2 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || append_new(spans, span(s, slots, n_slots)) < 0)
                goto fail;
        } else if (field == 1 || field == 2 || skip_field(&r, wire_type) < 0) {
            goto fail;
        }
    }
    if (name == NULL && (name = PyUnicode_New(0, 0)) == NULL) goto fail;
    if (version == NULL && (version = PyUnicode_New(0, 0)) == NULL) goto fail;
    return Py_BuildValue("(NNN)", name, version, spans);
fail:
    Py_XDECREF(name);
    Py_XDECREF(version);
    Py_DECREF(spans);
    return NULL;
}

/* A Resource message's attributes into dict. */
static int resource(Reader r, PyObject *dict) {
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) return FAIL;
        if (field == 1 && wire_type == WT_LEN) {
            if (attribute(dict, &r) < 0) return FAIL;
        } else if (field == 1 || skip_field(&r, wire_type) < 0) {
            return FAIL;
        }
    }
    return 0;
}

static PyObject *resource_spans(Reader r, PyObject *slots, Py_ssize_t n_slots) {
    PyObject *attributes = PyDict_New(), *scopes = PyList_New(0);
    int seen_resource = 0;
    if (attributes == NULL || scopes == NULL) goto fail;
    uint32_t field;
    int wire_type;
    while (r.p < r.end) {
        if (read_tag(&r, &field, &wire_type) < 0) goto fail;
        Reader s;
        if (field == 1 && wire_type == WT_LEN) {
            if (seen_resource || read_len(&r, &s) < 0 || resource(s, attributes) < 0) goto fail;
            seen_resource = 1;
        } else if (field == 2 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 || append_new(scopes, scope_spans(s, slots, n_slots)) < 0)
                goto fail;
        } else if (field == 1 || field == 2 || skip_field(&r, wire_type) < 0) {
            goto fail;
        }
    }
    return Py_BuildValue("(NN)", attributes, scopes);
fail:
    Py_XDECREF(attributes);
    Py_XDECREF(scopes);
    return NULL;
}

/* set_types(record_type, declined_type): the span record type, a tuple subclass with the
 * tuple's layout (a NamedTuple) whose _fields are field_names in any order, and the exception
 * type decode raises to decline. */
static PyObject *set_types(PyObject *module, PyObject *args) {
    PyObject *record, *declined, *fields;
    Py_ssize_t found[N_FIELDS];
    if (!PyArg_ParseTuple(args, "O!O:set_types", &PyType_Type, &record, &declined)) return NULL;
    PyTypeObject *type = (PyTypeObject *)record;
    if (!PyType_IsSubtype(type, &PyTuple_Type) ||
        type->tp_basicsize != PyTuple_Type.tp_basicsize ||
        type->tp_itemsize != PyTuple_Type.tp_itemsize)
        return PyErr_Format(PyExc_TypeError, "%R is not a tuple subclass without slots", record);
    if (!PyExceptionClass_Check(declined))
        return PyErr_Format(PyExc_TypeError, "%R is not an exception type", declined);
    if ((fields = PyObject_GetAttrString(record, "_fields")) == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return NULL;
        PyErr_Clear();
    }
    int ok = fields != NULL && PyTuple_Check(fields) && PyTuple_GET_SIZE(fields) == N_FIELDS;
    for (int i = 0; i < N_FIELDS; i++) found[i] = -1;
    for (Py_ssize_t position = 0; ok && position < N_FIELDS; position++) {
        PyObject *name = PyTuple_GET_ITEM(fields, position);
        int i = 0;
        while (i < N_FIELDS && !(PyUnicode_Check(name) &&
                                 PyUnicode_CompareWithASCIIString(name, field_names[i]) == 0))
            i++;
        ok = i < N_FIELDS && found[i] < 0;
        if (ok) found[i] = position;
    }
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%R has fields %R, not the span fields of the decoder",
                     record, fields != NULL ? fields : Py_None);
        Py_XDECREF(fields);
        return NULL;
    }
    Py_DECREF(fields);
    memcpy(positions, found, sizeof positions);
    Py_XSETREF(record_type, (PyTypeObject *)Py_NewRef(record));
    Py_XSETREF(declined_type, Py_NewRef(declined));
    Py_RETURN_NONE;
}

static PyObject *decode(PyObject *module, PyObject *args) {
    Py_buffer body;
    PyObject *slots;
    Py_ssize_t n_slots;
    if (record_type == NULL)
        return PyErr_Format(PyExc_RuntimeError, "call set_types before decode");
    if (!PyArg_ParseTuple(args, "y*O!n", &body, &PyDict_Type, &slots, &n_slots)) return NULL;
    if (n_slots < 0 || n_slots > MAX_SLOTS) {
        PyBuffer_Release(&body);
        return PyErr_Format(PyExc_ValueError, "n_slots must be 0 to %d", MAX_SLOTS);
    }
    Reader r = {body.buf, (const uint8_t *)body.buf + body.len};
    PyObject *resources = PyList_New(0);
    uint32_t field;
    int wire_type;
    while (resources != NULL && r.p < r.end) {
        Reader s;
        if (read_tag(&r, &field, &wire_type) < 0) goto decline;
        if (field == 1 && wire_type == WT_LEN) {
            if (read_len(&r, &s) < 0 ||
                append_new(resources, resource_spans(s, slots, n_slots)) < 0)
                goto decline;
        } else if (field == 1 || skip_field(&r, wire_type) < 0) {
            goto decline;
        }
    }
    PyBuffer_Release(&body);
    return resources;
decline:
    PyBuffer_Release(&body);
    Py_XDECREF(resources);
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return NULL;
        PyErr_Clear();
    }
    PyErr_SetString(declined_type, "the compiled OTLP decoder does not handle this request");
    return NULL;
}

static PyMethodDef methods[] = {
    {"set_types", set_types, METH_VARARGS,
     "set_types(record_type, declined_type): the span record type and the decline exception"},
    {"decode", decode, METH_VARARGS,
     "decode(body, slots, n_slots) -> resources, or raises declined_type (see the source)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_otlp_wire",
    "Compiled fast path of the OTLP trace decoder (see otlp_mapping).", -1, methods,
};

PyMODINIT_FUNC PyInit__otlp_wire(void) { return PyModule_Create(&module); }
