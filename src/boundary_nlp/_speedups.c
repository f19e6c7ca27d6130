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
#include <pthread.h>
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


/* ---- the batch kernel: many texts, no GIL ---------------------------------------------
 *
 * A kernel holds its own copies of everything scoring reads: the segmenter's prefix
 * dictionary (the entries loaded so far, synced by kernel_sync), each block's vocabulary,
 * the tf table, idf, coef and intercept. kernel_score copies a chunk's texts out of their
 * str objects, then releases the GIL for segmentation, n-grams, lookup, TF-IDF and the
 * decision values: the same steps and the same floating-point operations in the same order
 * as cut + word_columns/char_columns + tfidf_decision above. A read-write lock keeps a sync
 * (which may grow the dictionary) from running while a chunk is being scored.
 */

#define INLINE_CHARS 4

typedef struct {
    uint64_t hash;
    uint32_t length;
    int64_t value; /* a vocabulary's column; in the segmenter's dictionary 1: a word, 0: a prefix */
    double score;  /* the segmenter's log(freq) - log(total) */
    union {
        Py_UCS4 chars[INLINE_CHARS]; /* keys of up to INLINE_CHARS characters */
        size_t offset;               /* else the key's first character in the pool */
    } key;
} Entry;

/* Open addressing over 8-byte slots (0: empty, else the hash's high 32 bits and the entry
 * number + 1), so a probe reads one cache line and an entry is read only on a likely hit;
 * short keys live in the entry itself. */
typedef struct {
    Entry *entries;
    size_t size, capacity;
    uint64_t *slots;
    size_t mask;
    Py_UCS4 *pool;
    size_t pool_size, pool_capacity;
} Table;

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static inline uint64_t hash_step(uint64_t hash, Py_UCS4 ch) { return (hash ^ (uint64_t)ch) * FNV_PRIME; }

static uint64_t hash_chars(const Py_UCS4 *chars, size_t length) {
    uint64_t hash = FNV_OFFSET;
    for (size_t i = 0; i < length; i++) hash = hash_step(hash, chars[i]);
    return hash;
}

/* FNV's low bits depend on the low bits of the characters only: mix before masking */
static inline size_t slot_of(uint64_t hash, size_t mask) {
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    return (size_t)hash & mask;
}

static inline const Py_UCS4 *entry_chars(const Table *table, const Entry *entry) {
    return entry->length <= INLINE_CHARS ? entry->key.chars : table->pool + entry->key.offset;
}

static const Entry *table_find(const Table *table, const Py_UCS4 *chars, size_t length, uint64_t hash) {
    if (table->slots == NULL) return NULL;
    uint64_t tag = hash & 0xffffffff00000000ULL;
    for (size_t slot = slot_of(hash, table->mask);; slot = (slot + 1) & table->mask) {
        uint64_t value = table->slots[slot];
        if (value == 0) return NULL;
        if ((value & 0xffffffff00000000ULL) != tag) continue;
        const Entry *entry = &table->entries[(value & 0xffffffffULL) - 1];
        if (entry->hash == hash && entry->length == length &&
            memcmp(entry_chars(table, entry), chars, length * sizeof(Py_UCS4)) == 0) {
            return entry;
        }
    }
}

static inline void place(uint64_t *slots, size_t mask, uint64_t hash, size_t index) {
    size_t slot = slot_of(hash, mask);
    while (slots[slot] != 0) slot = (slot + 1) & mask;
    slots[slot] = (hash & 0xffffffff00000000ULL) | (uint64_t)(index + 1);
}

static int table_grow_slots(Table *table, size_t wanted) {
    size_t count = 16;
    while (count < 2 * wanted) count *= 2;
    if (table->slots != NULL && count <= table->mask + 1) return 0;
    if (wanted >= 0xffffffffULL) return -1;
    uint64_t *slots = calloc(count, sizeof(uint64_t));
    if (slots == NULL) return -1;
    for (size_t i = 0; i < table->size; i++) place(slots, count - 1, table->entries[i].hash, i);
    free(table->slots);
    table->slots = slots;
    table->mask = count - 1;
    return 0;
}

/* Insert or overwrite; -1 when out of memory. */
static int table_put(Table *table, const Py_UCS4 *chars, size_t length, int64_t value, double score) {
    uint64_t hash = hash_chars(chars, length);
    const Entry *found = table_find(table, chars, length, hash);
    if (found != NULL) {
        Entry *entry = (Entry *)found;
        entry->value = value;
        entry->score = score;
        return 0;
    }
    if (table_grow_slots(table, table->size + 1) < 0) return -1;
    if (table->size == table->capacity) {
        size_t capacity = table->capacity ? 2 * table->capacity : 1024;
        Entry *entries = realloc(table->entries, capacity * sizeof(Entry));
        if (entries == NULL) return -1;
        table->entries = entries;
        table->capacity = capacity;
    }
    Entry *entry = &table->entries[table->size];
    memset(entry, 0, sizeof(Entry));
    if (length > INLINE_CHARS) {
        if (table->pool_size + length > table->pool_capacity) {
            size_t capacity = table->pool_capacity ? 2 * table->pool_capacity : 4096;
            while (capacity < table->pool_size + length) capacity *= 2;
            Py_UCS4 *pool = realloc(table->pool, capacity * sizeof(Py_UCS4));
            if (pool == NULL) return -1;
            table->pool = pool;
            table->pool_capacity = capacity;
        }
        memcpy(table->pool + table->pool_size, chars, length * sizeof(Py_UCS4));
        entry->key.offset = table->pool_size;
        table->pool_size += length;
    } else {
        memcpy(entry->key.chars, chars, length * sizeof(Py_UCS4));
    }
    entry->hash = hash;
    entry->length = (uint32_t)length;
    entry->value = value;
    entry->score = score;
    place(table->slots, table->mask, hash, table->size);
    table->size++;
    return 0;
}

static void table_free(Table *table) {
    free(table->entries);
    free(table->slots);
    free(table->pool);
    memset(table, 0, sizeof(Table));
}

typedef struct {
    int word;
    Py_ssize_t low, high;
    int64_t offset;
    Table vocabulary;
} KernelBlock;

typedef struct {
    pthread_rwlock_t lock;
    int segments; /* has a word block: texts are cut with the dictionary */
    Table dictionary;
    double unknown;
    Py_ssize_t block_count;
    KernelBlock *blocks;
    double *tf, *idf, *coef, *intercept;
    Py_ssize_t tf_size, features, classes;
} Kernel;

#define KERNEL_CAPSULE "boundary_nlp._speedups.Kernel"

static void kernel_free(Kernel *kernel) {
    if (kernel == NULL) return;
    table_free(&kernel->dictionary);
    for (Py_ssize_t b = 0; b < kernel->block_count && kernel->blocks != NULL; b++) {
        table_free(&kernel->blocks[b].vocabulary);
    }
    free(kernel->blocks);
    free(kernel->tf);
    free(kernel->idf);
    free(kernel->coef);
    free(kernel->intercept);
    pthread_rwlock_destroy(&kernel->lock);
    free(kernel);
}

static void kernel_capsule_destructor(PyObject *capsule) {
    kernel_free(PyCapsule_GetPointer(capsule, KERNEL_CAPSULE));
}

static double *copy_doubles(PyObject *object, const char *name, Py_ssize_t *count) {
    Py_buffer view;
    if (get_doubles(object, &view, name) < 0) return NULL;
    *count = view.len / (Py_ssize_t)sizeof(double);
    double *copy = malloc(view.len ? (size_t)view.len : sizeof(double));
    if (copy == NULL) {
        PyErr_NoMemory();
    } else {
        memcpy(copy, view.buf, view.len);
    }
    PyBuffer_Release(&view);
    return copy;
}

/* Put ``key`` (a str) into ``table``; -1 with an exception set on failure. */
static int put_str(Table *table, PyObject *key, int64_t value, double score) {
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "keys must be str");
        return -1;
    }
    Py_UCS4 *chars = PyUnicode_AsUCS4Copy(key);
    if (chars == NULL) return -1;
    int status = table_put(table, chars, (size_t)PyUnicode_GET_LENGTH(key), value, score);
    PyMem_Free(chars);
    if (status < 0) PyErr_NoMemory();
    return status;
}

PyDoc_STRVAR(kernel_new_doc,
             "kernel_new(blocks, tf_table, idf, coef, intercept, unknown) -> capsule\n\n"
             "``blocks``: one (is_word, low, high, offset, terms) tuple per TF-IDF block, terms in\n"
             "column order. ``unknown``: the segmenter's score of an unknown character. The\n"
             "dictionary starts empty: fill it with kernel_sync.");

static PyObject *kernel_new(PyObject *module, PyObject *args) {
    PyObject *blocks, *table_object, *idf_object, *coef_object, *intercept_object;
    double unknown;
    if (!PyArg_ParseTuple(args, "O!OOOOd", &PyTuple_Type, &blocks, &table_object, &idf_object, &coef_object,
                          &intercept_object, &unknown)) {
        return NULL;
    }
    Kernel *kernel = calloc(1, sizeof(Kernel));
    if (kernel == NULL) return PyErr_NoMemory();
    if (pthread_rwlock_init(&kernel->lock, NULL) != 0) {
        free(kernel);
        PyErr_SetString(PyExc_RuntimeError, "cannot create a lock");
        return NULL;
    }
    kernel->unknown = unknown;
    Py_ssize_t coef_count = 0, intercept_count = 0;
    kernel->tf = copy_doubles(table_object, "tf_table", &kernel->tf_size);
    if (kernel->tf == NULL) goto fail;
    kernel->idf = copy_doubles(idf_object, "idf", &kernel->features);
    if (kernel->idf == NULL) goto fail;
    kernel->coef = copy_doubles(coef_object, "coef", &coef_count);
    if (kernel->coef == NULL) goto fail;
    kernel->intercept = copy_doubles(intercept_object, "intercept", &intercept_count);
    if (kernel->intercept == NULL) goto fail;
    kernel->classes = intercept_count;
    if (intercept_count < 1 || coef_count != kernel->features * intercept_count) {
        PyErr_SetString(PyExc_ValueError, "coef must have shape (len(idf), len(intercept))");
        goto fail;
    }
    kernel->block_count = PyTuple_GET_SIZE(blocks);
    kernel->blocks = calloc(kernel->block_count ? kernel->block_count : 1, sizeof(KernelBlock));
    if (kernel->blocks == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        KernelBlock *block = &kernel->blocks[b];
        PyObject *terms;
        int word;
        long long offset;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(blocks, b), "pnnLO!", &word, &block->low, &block->high, &offset,
                              &PyList_Type, &terms)) {
            goto fail;
        }
        if (block->low < 1 || block->high < block->low) {
            PyErr_SetString(PyExc_ValueError, "bad ngram range");
            goto fail;
        }
        block->word = word;
        block->offset = offset;
        if (offset < 0 || offset + PyList_GET_SIZE(terms) > kernel->features) {
            PyErr_SetString(PyExc_ValueError, "block columns beyond the idf array");
            goto fail;
        }
        kernel->segments |= word;
        if (table_grow_slots(&block->vocabulary, (size_t)PyList_GET_SIZE(terms)) < 0) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(terms); i++) {
            if (put_str(&block->vocabulary, PyList_GET_ITEM(terms, i), i, 0.0) < 0) goto fail;
        }
    }
    PyObject *capsule = PyCapsule_New(kernel, KERNEL_CAPSULE, kernel_capsule_destructor);
    if (capsule == NULL) goto fail;
    return capsule;
fail:
    kernel_free(kernel);
    return NULL;
}

static Kernel *get_kernel(PyObject *capsule) {
    return PyCapsule_GetPointer(capsule, KERNEL_CAPSULE);
}

PyDoc_STRVAR(kernel_sync_doc,
             "kernel_sync(kernel, entries, start) -> int\n\n"
             "Copy the items of ``entries`` (fastseg's BucketDictionary.entries: word -> score, or\n"
             "None for a prefix) from position ``start`` on into the kernel's dictionary; returns\n"
             "len(entries). The dictionary only ever grows by appending, so ``start`` is the\n"
             "length at the previous sync.");

static PyObject *kernel_sync(PyObject *module, PyObject *args) {
    PyObject *capsule, *entries;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "OO!n", &capsule, &PyDict_Type, &entries, &start)) return NULL;
    Kernel *kernel = get_kernel(capsule);
    if (kernel == NULL) return NULL;
    Py_ssize_t count = PyDict_GET_SIZE(entries);
    if (start >= count) return PyLong_FromSsize_t(count);
    /* the new items are copied out first, under the GIL; the kernel's table is changed
     * under the write lock, without the GIL (a reader never waits for the GIL) */
    Table fresh = {0};
    Py_ssize_t position = 0, seen = 0;
    PyObject *key, *value;
    while (PyDict_Next(entries, &position, &key, &value)) {
        if (seen++ < start) continue;
        double score = 0.0;
        if (value != Py_None) {
            score = PyFloat_AsDouble(value);
            if (score == -1.0 && PyErr_Occurred()) goto fail;
        }
        if (put_str(&fresh, key, value != Py_None, score) < 0) goto fail;
    }
    int status = 0;
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_wrlock(&kernel->lock);
    if (table_grow_slots(&kernel->dictionary, kernel->dictionary.size + fresh.size) < 0) status = -1;
    for (size_t i = 0; i < fresh.size && status == 0; i++) {
        const Entry *entry = &fresh.entries[i];
        status = table_put(&kernel->dictionary, entry_chars(&fresh, entry), entry->length, entry->value,
                           entry->score);
    }
    pthread_rwlock_unlock(&kernel->lock);
    Py_END_ALLOW_THREADS
    table_free(&fresh);
    if (status < 0) return PyErr_NoMemory();
    return PyLong_FromSsize_t(count);
fail:
    table_free(&fresh);
    return NULL;
}

/* per-call scratch space, grown as needed (plain malloc: used without the GIL) */
typedef struct {
    double *score;
    Py_ssize_t *best_end, *token_start, *token_end;
    Py_ssize_t token_count, chars_capacity;
    Py_UCS4 *key;
    Py_ssize_t key_capacity;
    int64_t *raw, *columns, *counts;
    double *values;
    Py_ssize_t raw_size, raw_capacity, terms_capacity;
} Scratch;

static void scratch_free(Scratch *s) {
    free(s->score);
    free(s->best_end);
    free(s->token_start);
    free(s->token_end);
    free(s->key);
    free(s->raw);
    free(s->columns);
    free(s->counts);
    free(s->values);
}

static int grow(void **items, Py_ssize_t count, size_t size) {
    void *grown = realloc(*items, (count ? count : 1) * size);
    if (grown == NULL) return -1;
    *items = grown;
    return 0;
}

static int scratch_chars(Scratch *s, Py_ssize_t length) {
    if (length + 1 <= s->chars_capacity) return 0;
    Py_ssize_t capacity = length + 1 > 2 * s->chars_capacity ? length + 1 : 2 * s->chars_capacity;
    if (grow((void **)&s->score, capacity, sizeof(double)) < 0 ||
        grow((void **)&s->best_end, capacity, sizeof(Py_ssize_t)) < 0 ||
        grow((void **)&s->token_start, capacity, sizeof(Py_ssize_t)) < 0 ||
        grow((void **)&s->token_end, capacity, sizeof(Py_ssize_t)) < 0) {
        return -1;
    }
    s->chars_capacity = capacity;
    return 0;
}

static int push_raw(Scratch *s, int64_t column) {
    if (s->raw_size == s->raw_capacity) {
        Py_ssize_t capacity = s->raw_capacity ? 2 * s->raw_capacity : 256;
        if (grow((void **)&s->raw, capacity, sizeof(int64_t)) < 0) return -1;
        s->raw_capacity = capacity;
    }
    s->raw[s->raw_size++] = column;
    return 0;
}

static inline void push_token(Scratch *s, Py_ssize_t start, Py_ssize_t end) {
    s->token_start[s->token_count] = start;
    s->token_end[s->token_count] = end;
    s->token_count++;
}

/* cut_run over code points: jieba's route of chars[begin:stop] */
static void kernel_cut_run(const Kernel *kernel, const Py_UCS4 *chars, Py_ssize_t begin, Py_ssize_t stop,
                           Scratch *s) {
    Py_ssize_t n = stop - begin;
    double *score = s->score;
    Py_ssize_t *best_end = s->best_end;
    const Py_UCS4 *run = chars + begin;
    score[n] = 0.0;
    for (Py_ssize_t k = n - 1; k >= 0; k--) {
        double best = kernel->unknown + score[k + 1];
        int found = 0;
        Py_ssize_t end = k;
        uint64_t hash = FNV_OFFSET;
        for (Py_ssize_t i = k; i < n; i++) {
            hash = hash_step(hash, run[i]);
            const Entry *entry = table_find(&kernel->dictionary, run + k, (size_t)(i - k + 1), hash);
            if (entry == NULL) break;
            if (entry->value) {
                double candidate = entry->score + score[i + 1];
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
    Py_ssize_t x = 0, latin = -1;
    while (x < n) {
        Py_ssize_t y = best_end[x] + 1;
        if (y - x == 1 && is_latin_or_digit(run[x])) {
            if (latin < 0) latin = x;
        } else {
            if (latin >= 0) {
                push_token(s, begin + latin, begin + x);
                latin = -1;
            }
            push_token(s, begin + x, begin + y);
        }
        x = y;
    }
    if (latin >= 0) push_token(s, begin + latin, stop);
}

static void kernel_cut(const Kernel *kernel, const Py_UCS4 *chars, Py_ssize_t length, Scratch *s) {
    s->token_count = 0;
    Py_ssize_t i = 0;
    while (i < length) {
        Py_UCS4 ch = chars[i];
        if (in_han_block(ch)) {
            Py_ssize_t stop = i + 1;
            while (stop < length && in_han_block(chars[stop])) stop++;
            kernel_cut_run(kernel, chars, i, stop, s);
            i = stop;
        } else {
            if (!Py_UNICODE_ISSPACE(ch)) push_token(s, i, i + 1);
            i++;
        }
    }
}

static int lookup_raw(const Table *vocabulary, const Py_UCS4 *chars, size_t length, uint64_t hash, Scratch *s) {
    const Entry *entry = table_find(vocabulary, chars, length, hash);
    return entry == NULL ? 0 : push_raw(s, entry->value);
}

/* The decision values of one text into ``decision``: 0, 1 when a count is beyond the tf
 * table (the caller uses numpy for that text), -1 when out of memory. */
static int kernel_score_one(const Kernel *kernel, const Py_UCS4 *chars, Py_ssize_t length, Scratch *s,
                            double *decision) {
    if (scratch_chars(s, length) < 0) return -1;
    if (kernel->segments) kernel_cut(kernel, chars, length, s);
    Py_ssize_t distinct = 0;
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        const KernelBlock *block = &kernel->blocks[b];
        s->raw_size = 0;
        if (block->word) {
            for (Py_ssize_t size = block->low; size <= block->high; size++) {
                for (Py_ssize_t start = 0; start + size <= s->token_count; start++) {
                    const Py_UCS4 *key;
                    Py_ssize_t key_length;
                    if (size == 1) {
                        key = chars + s->token_start[start];
                        key_length = s->token_end[start] - s->token_start[start];
                    } else {
                        key_length = size - 1;
                        for (Py_ssize_t t = start; t < start + size; t++) {
                            key_length += s->token_end[t] - s->token_start[t];
                        }
                        if (key_length > s->key_capacity) {
                            if (grow((void **)&s->key, 2 * key_length, sizeof(Py_UCS4)) < 0) return -1;
                            s->key_capacity = 2 * key_length;
                        }
                        Py_ssize_t at = 0;
                        for (Py_ssize_t t = start; t < start + size; t++) {
                            if (t > start) s->key[at++] = ' ';
                            Py_ssize_t part = s->token_end[t] - s->token_start[t];
                            memcpy(s->key + at, chars + s->token_start[t], part * sizeof(Py_UCS4));
                            at += part;
                        }
                        key = s->key;
                    }
                    if (lookup_raw(&block->vocabulary, key, (size_t)key_length, hash_chars(key, (size_t)key_length),
                                   s) < 0) {
                        return -1;
                    }
                }
            }
        } else {
            for (Py_ssize_t start = 0; start < length; start++) {
                uint64_t hash = FNV_OFFSET;
                for (Py_ssize_t size = 1; size <= block->high && start + size <= length; size++) {
                    hash = hash_step(hash, chars[start + size - 1]);
                    if (size >= block->low &&
                        lookup_raw(&block->vocabulary, chars + start, (size_t)size, hash, s) < 0) {
                        return -1;
                    }
                }
            }
        }
        if (distinct + s->raw_size > s->terms_capacity) {
            Py_ssize_t capacity = 2 * (distinct + s->raw_size);
            if (grow((void **)&s->columns, capacity, sizeof(int64_t)) < 0 ||
                grow((void **)&s->counts, capacity, sizeof(int64_t)) < 0 ||
                grow((void **)&s->values, capacity, sizeof(double)) < 0) {
                return -1;
            }
            s->terms_capacity = capacity;
        }
        /* from here on tfidf_decision's arithmetic, step for step */
        Py_ssize_t start = distinct;
        distinct += distinct_counts(s->raw, s->raw_size, block->offset, s->columns + start, s->counts + start);
        double norm = 0.0;
        for (Py_ssize_t i = start; i < distinct; i++) {
            if (s->counts[i] > kernel->tf_size) return 1;
            s->values[i] = kernel->tf[s->counts[i] - 1] * kernel->idf[s->columns[i]];
            norm += s->values[i] * s->values[i];
        }
        norm = sqrt(norm);
        if (norm > 0) {
            for (Py_ssize_t i = start; i < distinct; i++) s->values[i] = s->values[i] / norm;
        }
    }
    Py_ssize_t classes = kernel->classes;
    for (Py_ssize_t k = 0; k < classes; k++) {
        double sum = 0.0;
        for (Py_ssize_t i = 0; i < distinct; i++) sum += kernel->coef[s->columns[i] * classes + k] * s->values[i];
        decision[k] = sum + kernel->intercept[k];
    }
    return 0;
}

PyDoc_STRVAR(kernel_score_doc,
             "kernel_score(kernel, texts, out) -> list[int]\n\n"
             "Decision values of every text (a list of str, already read as the model reads them)\n"
             "into ``out`` (a writable C-contiguous float64 array of len(texts) x classes), with the\n"
             "GIL released. Returns the rows with a count beyond the tf table: their ``out`` rows are\n"
             "not written and the caller scores them with numpy.");

static PyObject *kernel_score(PyObject *module, PyObject *args) {
    PyObject *capsule, *texts, *out_object;
    if (!PyArg_ParseTuple(args, "OO!O", &capsule, &PyList_Type, &texts, &out_object)) return NULL;
    Kernel *kernel = get_kernel(capsule);
    if (kernel == NULL) return NULL;
    Py_buffer out;
    if (PyObject_GetBuffer(out_object, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(texts);
    PyObject *result = NULL;
    Py_ssize_t *starts = NULL;
    Py_UCS4 *pool = NULL;
    char *fallback = NULL;
    if (out.itemsize != sizeof(double) || out.format == NULL || strcmp(out.format, "d") != 0 ||
        out.len != n * kernel->classes * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "out must be a float64 array of len(texts) x classes");
        goto done;
    }
    starts = malloc((n + 1) * sizeof(Py_ssize_t));
    fallback = calloc(n ? n : 1, 1);
    if (starts == NULL || fallback == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "text %zd is not str", i);
            goto done;
        }
        starts[i] = total;
        total += PyUnicode_GET_LENGTH(text);
    }
    starts[n] = total;
    pool = malloc((total ? total : 1) * sizeof(Py_UCS4));
    if (pool == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        Py_ssize_t length = starts[i + 1] - starts[i];
        if (length && PyUnicode_AsUCS4(text, pool + starts[i], length, 0) == NULL) goto done;
    }
    int status = 0;
    double *decision = out.buf;
    Py_BEGIN_ALLOW_THREADS
    Scratch scratch = {0};
    pthread_rwlock_rdlock(&kernel->lock);
    for (Py_ssize_t i = 0; i < n && status >= 0; i++) {
        int one = kernel_score_one(kernel, pool + starts[i], starts[i + 1] - starts[i], &scratch,
                                   decision + i * kernel->classes);
        if (one > 0) fallback[i] = 1;
        if (one < 0) status = -1;
    }
    pthread_rwlock_unlock(&kernel->lock);
    scratch_free(&scratch);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyList_New(0);
    for (Py_ssize_t i = 0; i < n && result != NULL; i++) {
        if (fallback[i]) {
            PyObject *row = PyLong_FromSsize_t(i);
            if (row == NULL || PyList_Append(result, row) < 0) Py_CLEAR(result);
            Py_XDECREF(row);
        }
    }
done:
    PyBuffer_Release(&out);
    free(starts);
    free(pool);
    free(fallback);
    return result;
}

static PyMethodDef methods[] = {
    {"cut", cut, METH_VARARGS, cut_doc},
    {"char_columns", char_columns, METH_VARARGS, char_columns_doc},
    {"word_columns", word_columns, METH_VARARGS, word_columns_doc},
    {"tfidf_decision", tfidf_decision, METH_VARARGS, tfidf_decision_doc},
    {"kernel_new", kernel_new, METH_VARARGS, kernel_new_doc},
    {"kernel_sync", kernel_sync, METH_VARARGS, kernel_sync_doc},
    {"kernel_score", kernel_score, METH_VARARGS, kernel_score_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "boundary_nlp._speedups",
    "C versions of boundary_nlp's per-text hot loops (optional; same results as the Python code).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module_definition); }
