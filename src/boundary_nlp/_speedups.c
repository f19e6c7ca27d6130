/* Optional C versions of the per-text hot loops of boundary_nlp (fastseg, compiled).
 *
 * Each function computes exactly what its pure-Python counterpart computes: the same
 * tokens, the same columns, and the same floating-point operations in the same order
 * (the module is compiled with -ffp-contract=off, so no fused multiply-add changes a
 * rounding). The tests compare both paths over the whole corpus. When the module is not
 * built (no C compiler at install time), the library uses the Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable array of column numbers ------------------------------------------- */

typedef struct {
    int64_t *items;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Columns;

static int columns_push(Columns *columns, int64_t value) {
    if (columns->size == columns->capacity) {
        Py_ssize_t capacity = columns->capacity ? 2 * columns->capacity : 64;
        int64_t *items = PyMem_Realloc(columns->items, capacity * sizeof(int64_t));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        columns->items = items;
        columns->capacity = capacity;
    }
    columns->items[columns->size++] = value;
    return 0;
}

/* Look ``term`` up in ``vocabulary`` (str -> int); push its column if present.
 * Steals the reference to ``term``. */
static int lookup_push(PyObject *vocabulary, PyObject *term, Columns *columns) {
    if (term == NULL) {
        return -1;
    }
    PyObject *column = PyDict_GetItemWithError(vocabulary, term); /* borrowed */
    Py_DECREF(term);
    if (column == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int64_t value = PyLong_AsLongLong(column);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    return columns_push(columns, value);
}

static PyObject *columns_to_bytes(Columns *columns) {
    PyObject *out = PyBytes_FromStringAndSize((const char *)columns->items,
                                              columns->size * (Py_ssize_t)sizeof(int64_t));
    PyMem_Free(columns->items);
    columns->items = NULL;
    return out;
}

/* ---- segmentation ------------------------------------------------------------------- */

static int is_latin_or_digit(Py_UCS4 ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static int append_substring(PyObject *words, PyObject *sentence, Py_ssize_t start, Py_ssize_t end) {
    PyObject *word = PyUnicode_Substring(sentence, start, end);
    if (word == NULL) {
        return -1;
    }
    int status = PyList_Append(words, word);
    Py_DECREF(word);
    return status;
}

/* jieba's DAG, best route and no-HMM cut of sentence[begin:stop] (one run of "Han" block
 * characters), words appended to ``words``: fastseg._cut_block_python. */
static int cut_run(PyObject *words, PyObject *sentence, Py_ssize_t begin, Py_ssize_t stop, PyObject *entries,
                   double unknown) {
    Py_ssize_t n = stop - begin;
    int status = -1;
    double *score = PyMem_Malloc((n + 1) * sizeof(double));
    Py_ssize_t *best_end = PyMem_Malloc((n + 1) * sizeof(Py_ssize_t));
    if (score == NULL || best_end == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    score[n] = 0.0;
    for (Py_ssize_t k = n - 1; k >= 0; k--) {
        double best = unknown + score[k + 1];
        int found = 0;
        Py_ssize_t end = k;
        for (Py_ssize_t i = k; i < n; i++) {
            PyObject *fragment = PyUnicode_Substring(sentence, begin + k, begin + i + 1);
            if (fragment == NULL) {
                goto done;
            }
            PyObject *entry = PyDict_GetItemWithError(entries, fragment); /* borrowed */
            Py_DECREF(fragment);
            if (entry == NULL) {
                if (PyErr_Occurred()) {
                    goto done;
                }
                break; /* neither a word nor a word prefix: no longer word starts at k */
            }
            if (entry != Py_None) {
                double value = PyFloat_AsDouble(entry);
                if (value == -1.0 && PyErr_Occurred()) {
                    goto done;
                }
                double candidate = value + score[i + 1];
                if (!found || candidate >= best) {
                    best = candidate;
                    end = i;
                    found = 1;
                }
            }
        }
        score[k] = best;
        best_end[k] = end;
    }
    Py_ssize_t x = 0, run = -1; /* run: start of a run of single Latin letters and digits */
    while (x < n) {
        Py_ssize_t y = best_end[x] + 1;
        if (y - x == 1 && is_latin_or_digit(PyUnicode_READ_CHAR(sentence, begin + x))) {
            if (run < 0) {
                run = x;
            }
        } else {
            if (run >= 0) {
                if (append_substring(words, sentence, begin + run, begin + x) < 0) {
                    goto done;
                }
                run = -1;
            }
            if (append_substring(words, sentence, begin + x, begin + y) < 0) {
                goto done;
            }
        }
        x = y;
    }
    if (run >= 0 && append_substring(words, sentence, begin + run, stop) < 0) {
        goto done;
    }
    status = 0;
done:
    PyMem_Free(score);
    PyMem_Free(best_end);
    return status;
}

/* jieba 0.42.1's re_han_default: [\u4e00-\u9fd5a-zA-Z0-9+#&\._%\-] */
static int in_han_block(Py_UCS4 ch) {
    return (ch >= 0x4e00 && ch <= 0x9fd5) || is_latin_or_digit(ch) || ch == '+' || ch == '#' || ch == '&' ||
           ch == '.' || ch == '_' || ch == '%' || ch == '-';
}

PyDoc_STRVAR(cut_doc,
             "cut(text, entries, unknown) -> list[str]\n\n"
             "fastseg._cut_python: runs of block characters cut by jieba's route, whitespace\n"
             "dropped, any other character a token of its own.");

static PyObject *cut(PyObject *module, PyObject *args) {
    PyObject *text, *entries;
    double unknown;
    if (!PyArg_ParseTuple(args, "UO!d", &text, &PyDict_Type, &entries, &unknown)) {
        return NULL;
    }
    PyObject *words = PyList_New(0);
    if (words == NULL) {
        return NULL;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), i = 0;
    while (i < length) {
        Py_UCS4 ch = PyUnicode_READ_CHAR(text, i);
        if (in_han_block(ch)) {
            Py_ssize_t stop = i + 1;
            while (stop < length && in_han_block(PyUnicode_READ_CHAR(text, stop))) {
                stop++;
            }
            if (cut_run(words, text, i, stop, entries, unknown) < 0) {
                goto fail;
            }
            i = stop;
        } else {
            if (!Py_UNICODE_ISSPACE(ch) && append_substring(words, text, i, i + 1) < 0) {
                goto fail;
            }
            i++;
        }
    }
    return words;
fail:
    Py_DECREF(words);
    return NULL;
}

/* ---- n-gram columns ------------------------------------------------------------------ */

PyDoc_STRVAR(char_columns_doc,
             "char_columns(text, vocabulary, low, high) -> bytes\n\n"
             "Columns (int64, in n-gram order, repeats kept) of the character n-grams of a\n"
             "normalized text that are in the vocabulary.");

static PyObject *char_columns(PyObject *module, PyObject *args) {
    PyObject *text, *vocabulary;
    Py_ssize_t low, high;
    if (!PyArg_ParseTuple(args, "UO!nn", &text, &PyDict_Type, &vocabulary, &low, &high)) {
        return NULL;
    }
    Columns columns = {NULL, 0, 0};
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    for (Py_ssize_t size = low < 1 ? 1 : low; size <= high; size++) {
        for (Py_ssize_t start = 0; start + size <= length; start++) {
            if (lookup_push(vocabulary, PyUnicode_Substring(text, start, start + size), &columns) < 0) {
                PyMem_Free(columns.items);
                return NULL;
            }
        }
    }
    return columns_to_bytes(&columns);
}

PyDoc_STRVAR(word_columns_doc,
             "word_columns(tokens, vocabulary, low, high) -> bytes\n\n"
             "Columns (int64, in n-gram order, repeats kept) of the word n-grams (tokens\n"
             "joined by one space) that are in the vocabulary.");

static PyObject *word_columns(PyObject *module, PyObject *args) {
    PyObject *tokens, *vocabulary;
    Py_ssize_t low, high;
    if (!PyArg_ParseTuple(args, "O!O!nn", &PyList_Type, &tokens, &PyDict_Type, &vocabulary, &low, &high)) {
        return NULL;
    }
    Columns columns = {NULL, 0, 0};
    PyObject *space = PyUnicode_FromString(" ");
    if (space == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(tokens);
    for (Py_ssize_t size = low < 1 ? 1 : low; size <= high; size++) {
        for (Py_ssize_t start = 0; start + size <= count; start++) {
            PyObject *term;
            if (size == 1) {
                term = PyList_GET_ITEM(tokens, start);
                Py_INCREF(term);
            } else {
                PyObject *slice = PyList_GetSlice(tokens, start, start + size);
                if (slice == NULL) {
                    goto fail;
                }
                term = PyUnicode_Join(space, slice);
                Py_DECREF(slice);
            }
            if (lookup_push(vocabulary, term, &columns) < 0) {
                goto fail;
            }
        }
    }
    Py_DECREF(space);
    return columns_to_bytes(&columns);
fail:
    Py_DECREF(space);
    PyMem_Free(columns.items);
    return NULL;
}

/* ---- TF-IDF and decision values of one text ------------------------------------------ */

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sort ``raw`` (in place), then write each distinct column + offset and its count. */
static Py_ssize_t distinct_counts(int64_t *raw, Py_ssize_t size, int64_t offset, int64_t *columns,
                                  int64_t *counts) {
    qsort(raw, size, sizeof(int64_t), compare_int64);
    Py_ssize_t distinct = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        if (distinct > 0 && columns[distinct - 1] == raw[i] + offset) {
            counts[distinct - 1]++;
        } else {
            columns[distinct] = raw[i] + offset;
            counts[distinct] = 1;
            distinct++;
        }
    }
    return distinct;
}

static int get_doubles(PyObject *object, Py_buffer *view, const char *name) {
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (view->itemsize != sizeof(double) || view->format == NULL || strcmp(view->format, "d") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous float64 array", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(tfidf_decision_doc,
             "tfidf_decision(blocks, tf_table, idf, coef, intercept) -> (columns, values, decision) | None\n\n"
             "``blocks``: one (columns bytes, offset) pair per TF-IDF block. The same arithmetic as\n"
             "CompiledModel.tfidf + decisions_from_tfidf for one text, in the same order: counts ->\n"
             "tf_table[count - 1] -> x idf -> / block L2 norm; decision = sum of coef x value +\n"
             "intercept, summed column by column in increasing order. Returns None when a count\n"
             "is beyond tf_table (the caller then uses numpy).");

static PyObject *tfidf_decision(PyObject *module, PyObject *args) {
    PyObject *blocks, *table_object, *idf_object, *coef_object, *intercept_object;
    if (!PyArg_ParseTuple(args, "O!OOOO", &PyTuple_Type, &blocks, &table_object, &idf_object,
                          &coef_object, &intercept_object)) {
        return NULL;
    }
    Py_buffer table, idf, coef, intercept;
    int have_table = 0, have_idf = 0, have_coef = 0, have_intercept = 0;
    int64_t *raw = NULL, *columns = NULL, *counts = NULL;
    double *values = NULL, *decision = NULL;
    PyObject *result = NULL;

    if (get_doubles(table_object, &table, "tf_table") < 0) goto done;
    have_table = 1;
    if (get_doubles(idf_object, &idf, "idf") < 0) goto done;
    have_idf = 1;
    if (get_doubles(coef_object, &coef, "coef") < 0) goto done;
    have_coef = 1;
    if (get_doubles(intercept_object, &intercept, "intercept") < 0) goto done;
    have_intercept = 1;
    Py_ssize_t classes = intercept.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t features = idf.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t table_size = table.len / (Py_ssize_t)sizeof(double);
    if (classes < 1 || coef.len != features * classes * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "coef must have shape (len(idf), len(intercept))");
        goto done;
    }

    Py_ssize_t block_count = PyTuple_GET_SIZE(blocks), total = 0;
    for (Py_ssize_t b = 0; b < block_count; b++) {
        PyObject *block = PyTuple_GET_ITEM(blocks, b);
        if (!PyTuple_Check(block) || PyTuple_GET_SIZE(block) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(block, 0))) {
            PyErr_SetString(PyExc_TypeError, "each block must be a (bytes, int) pair");
            goto done;
        }
        total += PyBytes_GET_SIZE(PyTuple_GET_ITEM(block, 0)) / (Py_ssize_t)sizeof(int64_t);
    }
    raw = PyMem_Malloc((total + 1) * sizeof(int64_t));
    columns = PyMem_Malloc((total + 1) * sizeof(int64_t));
    counts = PyMem_Malloc((total + 1) * sizeof(int64_t));
    values = PyMem_Malloc((total + 1) * sizeof(double));
    decision = PyMem_Malloc(classes * sizeof(double));
    if (!raw || !columns || !counts || !values || !decision) {
        PyErr_NoMemory();
        goto done;
    }

    Py_ssize_t distinct = 0;
    const double *tf = table.buf, *idf_values = idf.buf;
    for (Py_ssize_t b = 0; b < block_count; b++) {
        PyObject *block = PyTuple_GET_ITEM(blocks, b);
        PyObject *data = PyTuple_GET_ITEM(block, 0);
        int64_t offset = PyLong_AsLongLong(PyTuple_GET_ITEM(block, 1));
        if (offset == -1 && PyErr_Occurred()) goto done;
        Py_ssize_t size = PyBytes_GET_SIZE(data) / (Py_ssize_t)sizeof(int64_t);
        memcpy(raw, PyBytes_AS_STRING(data), size * sizeof(int64_t));
        Py_ssize_t start = distinct;
        distinct += distinct_counts(raw, size, offset, columns + start, counts + start);
        double norm = 0.0;
        for (Py_ssize_t i = start; i < distinct; i++) {
            if (columns[i] < 0 || columns[i] >= features) {
                PyErr_SetString(PyExc_IndexError, "column beyond the idf array");
                goto done;
            }
            if (counts[i] > table_size) {
                Py_INCREF(Py_None);
                result = Py_None;
                goto done;
            }
            values[i] = tf[counts[i] - 1] * idf_values[columns[i]];
            norm += values[i] * values[i];
        }
        norm = sqrt(norm);
        if (norm > 0) {
            for (Py_ssize_t i = start; i < distinct; i++) {
                values[i] = values[i] / norm;
            }
        }
    }
    const double *weights = coef.buf, *bias = intercept.buf;
    for (Py_ssize_t k = 0; k < classes; k++) {
        double sum = 0.0;
        for (Py_ssize_t i = 0; i < distinct; i++) {
            sum += weights[columns[i] * classes + k] * values[i];
        }
        decision[k] = sum + bias[k];
    }
    result = Py_BuildValue("(y#y#y#)", (const char *)columns, distinct * (Py_ssize_t)sizeof(int64_t),
                           (const char *)values, distinct * (Py_ssize_t)sizeof(double),
                           (const char *)decision, classes * (Py_ssize_t)sizeof(double));
done:
    if (have_table) PyBuffer_Release(&table);
    if (have_idf) PyBuffer_Release(&idf);
    if (have_coef) PyBuffer_Release(&coef);
    if (have_intercept) PyBuffer_Release(&intercept);
    PyMem_Free(raw);
    PyMem_Free(columns);
    PyMem_Free(counts);
    PyMem_Free(values);
    PyMem_Free(decision);
    return result;
}

static PyMethodDef methods[] = {
    {"cut", cut, METH_VARARGS, cut_doc},
    {"char_columns", char_columns, METH_VARARGS, char_columns_doc},
    {"word_columns", word_columns, METH_VARARGS, word_columns_doc},
    {"tfidf_decision", tfidf_decision, METH_VARARGS, tfidf_decision_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "boundary_nlp._speedups",
    "C versions of boundary_nlp's per-text hot loops (optional; same results as the Python code).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module_definition); }
