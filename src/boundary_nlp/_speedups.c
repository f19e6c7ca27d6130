/* The optional C backend of boundary_nlp: jieba's route over the shipped dictionary and the
 * batch kernel that scores texts without the GIL.
 *
 * Everything here computes exactly what the pure-Python code computes: the same tokens as
 * fastseg._cut_python, and for each text the same columns and the same floating-point
 * operations in the same order as LinearTextModel.tfidf + _decisions_from_tfidf (the module
 * is compiled with -ffp-contract=off, so no fused multiply-add changes a rounding). The tests
 * compare both paths over the whole corpus. Without the module the library runs the Python
 * code.
 *
 * Two objects, each a capsule:
 * - a Segmenter: the prefix dictionary loaded so far (fastseg loads it by first character,
 *   seg_add copies a bucket in) and jieba's no-HMM route over it (seg_cut);
 * - a Kernel: one model's vocabularies, views of its tf table, idf, coef and intercept, a reference
 *   to the Segmenter when the model has word features. kernel_score scores a chunk of texts
 *   with the GIL released (so threads use every core), reading each text's content
 *   (content_text, the same as text.content_text) first when asked; kernel_features gives one
 *   text's columns and values for evidence.
 * A Segmenter's read-write lock keeps seg_add (which may grow the dictionary) from running
 * while a chunk is being cut.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- character classes (jieba 0.42.1) ----------------------------------------------- */

static int is_latin_or_digit(Py_UCS4 ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* jieba's re_han_default: [\u4e00-\u9fd5a-zA-Z0-9+#&\._%\-] */
static int in_han_block(Py_UCS4 ch) {
    return (ch >= 0x4e00 && ch <= 0x9fd5) || is_latin_or_digit(ch) || ch == '+' || ch == '#' || ch == '&' ||
           ch == '.' || ch == '_' || ch == '%' || ch == '-';
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Sort columns (non-negative) in increasing order: insertion sort for the few terms of a
 * short text, else a least-significant-digit radix sort by bytes through ``spare`` (as long
 * as ``items``). Equal columns are interchangeable, so any correct sort gives the same
 * result as the qsort this replaces. */
static void sort_columns(int64_t *items, Py_ssize_t count, int64_t *spare) {
    if (count <= 48) {
        for (Py_ssize_t i = 1; i < count; i++) {
            int64_t item = items[i];
            Py_ssize_t j = i;
            while (j > 0 && items[j - 1] > item) {
                items[j] = items[j - 1];
                j--;
            }
            items[j] = item;
        }
        return;
    }
    uint64_t bits = 0;
    for (Py_ssize_t i = 0; i < count; i++) bits |= (uint64_t)items[i];
    int64_t *from = items, *to = spare;
    for (int shift = 0; shift < 64 && (bits >> shift) != 0; shift += 8) {
        Py_ssize_t next[257] = {0};
        for (Py_ssize_t i = 0; i < count; i++) next[(((uint64_t)from[i] >> shift) & 0xff) + 1]++;
        for (int digit = 1; digit < 256; digit++) next[digit] += next[digit - 1];
        for (Py_ssize_t i = 0; i < count; i++) to[next[((uint64_t)from[i] >> shift) & 0xff]++] = from[i];
        int64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != items) memcpy(items, from, count * sizeof(int64_t));
}

/* Sort ``raw`` (in place), then write each distinct column + offset and its count. */
static Py_ssize_t distinct_counts(int64_t *raw, Py_ssize_t size, int64_t *spare, int64_t offset, int64_t *columns,
                                  int64_t *counts) {
    sort_columns(raw, size, spare);
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

/* ---- hash table of code-point strings ----------------------------------------------- */

#define INLINE_CHARS 4

/* 32 bytes in an array aligned to a cache line, so reading an entry is one cache miss. The
 * key's hash is not kept: the slot's tag screens, the key decides, and growing the slots
 * hashes the keys again. */
typedef struct {
    uint32_t length;
    uint32_t value; /* a vocabulary's column; in the segmenter's dictionary 1: a word, 0: a prefix */
    double score;   /* the segmenter's log(freq) - log(total) */
    union {
        Py_UCS4 chars[INLINE_CHARS]; /* keys of up to INLINE_CHARS characters */
        size_t offset;               /* else the key's first character in the pool */
    } key;
} Entry;

#define ENTRY_ALIGNMENT 64
_Static_assert(ENTRY_ALIGNMENT % sizeof(Entry) == 0, "an entry lies within one cache line");

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
    size_t reserve; /* entries to allocate at once on the first put */
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

/* Whether ``entry`` holds the key chars[:length]. Keys are a few characters (a character
 * n-gram, a word, two words): a loop here costs less than a call to memcmp. */
static inline int entry_is(const Table *table, const Entry *entry, const Py_UCS4 *chars, size_t length) {
    if (entry->length != length) return 0;
    const Py_UCS4 *key = entry_chars(table, entry);
    for (size_t i = 0; i < length; i++) {
        if (key[i] != chars[i]) return 0;
    }
    return 1;
}

static const Entry *table_find(const Table *table, const Py_UCS4 *chars, size_t length, uint64_t hash) {
    if (table->slots == NULL) return NULL;
    uint64_t tag = hash & 0xffffffff00000000ULL;
    for (size_t slot = slot_of(hash, table->mask);; slot = (slot + 1) & table->mask) {
        uint64_t value = table->slots[slot];
        if (value == 0) return NULL;
        if ((value & 0xffffffff00000000ULL) != tag) continue;
        const Entry *entry = &table->entries[(value & 0xffffffffULL) - 1];
        if (entry_is(table, entry, chars, length)) return entry;
    }
}

/* Memory-level parallelism. A lookup is a chain of cache misses (its slot, then its entry,
 * then the model's rows for the entry's column), and a text needs a hundred lookups or so.
 * The callers first ask for the slots of many keys (table_prefetch_slot), then for the
 * entries those slots point to (table_prefetch_entry), and only then look each key up with
 * table_find, so the misses of different keys are waited for together. Both are hints:
 * they change no result. */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

static inline void table_prefetch_slot(const Table *table, uint64_t hash) {
    if (table->slots != NULL) PREFETCH(&table->slots[slot_of(hash, table->mask)]);
}

/* The entry of the first slot with the hash's tag (the likely hit; absent keys stop at an
 * empty slot without touching an entry). */
static inline void table_prefetch_entry(const Table *table, uint64_t hash) {
    if (table->slots == NULL) return;
    uint64_t tag = hash & 0xffffffff00000000ULL;
    for (size_t slot = slot_of(hash, table->mask);; slot = (slot + 1) & table->mask) {
        uint64_t value = table->slots[slot];
        if (value == 0) return;
        if ((value & 0xffffffff00000000ULL) == tag) {
            const Entry *entry = &table->entries[(value & 0xffffffffULL) - 1];
            PREFETCH(entry);
            return;
        }
    }
}

static inline void place(uint64_t *slots, size_t mask, uint64_t hash, size_t index) {
    size_t slot = slot_of(hash, mask);
    while (slots[slot] != 0) slot = (slot + 1) & mask;
    slots[slot] = (hash & 0xffffffff00000000ULL) | (uint64_t)(index + 1);
}

static int table_grow_slots(Table *table, size_t wanted) {
    if (table->slots != NULL && 2 * wanted <= table->mask + 1) return 0;
    size_t count = 16;
    while (count < 2 * wanted) count *= 2;
    if (table->slots != NULL && count <= table->mask + 1) return 0;
    if (wanted >= 0xffffffffULL) return -1;
    uint64_t *slots = calloc(count, sizeof(uint64_t));
    if (slots == NULL) return -1;
    for (size_t i = 0; i < table->size; i++) {
        const Entry *entry = &table->entries[i];
        place(slots, count - 1, hash_chars(entry_chars(table, entry), entry->length), i);
    }
    free(table->slots);
    table->slots = slots;
    table->mask = count - 1;
    return 0;
}

/* Insert, or overwrite an existing key (then 1); -1 when out of memory. One probe sequence
 * finds the key or the empty slot it goes to (a table of a model's 300,000 terms is built
 * in one pass of mostly cache misses). */
static int table_put(Table *table, const Py_UCS4 *chars, size_t length, uint32_t value, double score) {
    uint64_t hash = hash_chars(chars, length);
    if (table_grow_slots(table, table->size + 1) < 0) return -1;
    uint64_t tag = hash & 0xffffffff00000000ULL;
    size_t slot = slot_of(hash, table->mask);
    for (;; slot = (slot + 1) & table->mask) {
        uint64_t taken = table->slots[slot];
        if (taken == 0) break;
        if ((taken & 0xffffffff00000000ULL) != tag) continue;
        Entry *entry = &table->entries[(taken & 0xffffffffULL) - 1];
        if (entry_is(table, entry, chars, length)) {
            entry->value = value;
            entry->score = score;
            return 1;
        }
    }
    if (table->size == table->capacity) {
        size_t capacity = table->capacity ? 2 * table->capacity : 1024;
        if (capacity < table->reserve) capacity = table->reserve;
        void *entries; /* not realloc: it keeps no alignment */
        if (posix_memalign(&entries, ENTRY_ALIGNMENT, capacity * sizeof(Entry)) != 0) return -1;
        if (table->size) memcpy(entries, table->entries, table->size * sizeof(Entry));
        free(table->entries);
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
    entry->length = (uint32_t)length;
    entry->value = value;
    entry->score = score;
    table->slots[slot] = tag | (uint64_t)(table->size + 1);
    table->size++;
    return 0;
}

static void table_free(Table *table) {
    free(table->entries);
    free(table->slots);
    free(table->pool);
    memset(table, 0, sizeof(Table));
}

/* Copy ``key`` (a str) into ``buffer`` as code points, growing it; the length, or -1. */
static Py_ssize_t str_chars(PyObject *key, Py_UCS4 **buffer, Py_ssize_t *capacity) {
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "keys must be str");
        return -1;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(key);
    if (length + 1 > *capacity) {
        Py_UCS4 *grown = PyMem_Realloc(*buffer, (length + 1) * sizeof(Py_UCS4));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *buffer = grown;
        *capacity = length + 1;
    }
    if (length && PyUnicode_AsUCS4(key, *buffer, *capacity, 0) == NULL) return -1;
    return length;
}

/* ---- the segmenter ------------------------------------------------------------------------ */

#define CODE_POINTS 0x110000

typedef struct {
    pthread_rwlock_t lock;
    Table dictionary; /* value 1: a word (score: log(freq) - log(total)), 0: only a prefix */
    double unknown;   /* the score of a character that is no word */
    uint8_t *taken;   /* a bit per code point: its bucket was offered (seg_mark); under the GIL */
} Segmenter;

#define SEGMENTER_CAPSULE "boundary_nlp._speedups.Segmenter"

static void segmenter_capsule_destructor(PyObject *capsule) {
    Segmenter *segmenter = PyCapsule_GetPointer(capsule, SEGMENTER_CAPSULE);
    if (segmenter == NULL) return;
    table_free(&segmenter->dictionary);
    pthread_rwlock_destroy(&segmenter->lock);
    free(segmenter->taken);
    free(segmenter);
}

static Segmenter *get_segmenter(PyObject *capsule) { return PyCapsule_GetPointer(capsule, SEGMENTER_CAPSULE); }

PyDoc_STRVAR(seg_new_doc,
             "seg_new(unknown) -> segmenter\n\n"
             "An empty segmenter; ``unknown`` is the score of a character that is no word.\n"
             "Fill its dictionary with seg_add.");

static PyObject *seg_new(PyObject *module, PyObject *args) {
    double unknown;
    if (!PyArg_ParseTuple(args, "d", &unknown)) return NULL;
    Segmenter *segmenter = calloc(1, sizeof(Segmenter));
    if (segmenter == NULL) return PyErr_NoMemory();
    if (pthread_rwlock_init(&segmenter->lock, NULL) != 0) {
        free(segmenter);
        PyErr_SetString(PyExc_RuntimeError, "cannot create a lock");
        return NULL;
    }
    segmenter->unknown = unknown;
    PyObject *capsule = PyCapsule_New(segmenter, SEGMENTER_CAPSULE, segmenter_capsule_destructor);
    if (capsule == NULL) {
        pthread_rwlock_destroy(&segmenter->lock);
        free(segmenter);
    }
    return capsule;
}

static int grow(void **items, Py_ssize_t count, size_t size);

static int taken_bits(Segmenter *segmenter) {
    if (segmenter->taken == NULL) segmenter->taken = calloc(CODE_POINTS / 8, 1);
    if (segmenter->taken == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(seg_missing_doc,
             "seg_missing(segmenter, texts) -> str\n\n"
             "The distinct characters of ``texts`` (a list of str) not marked with seg_mark, in the\n"
             "order first seen: the first characters whose dictionary buckets may still be missing.\n"
             "A bit per code point: far cheaper than a Python set of a chunk's characters.");

static PyObject *seg_missing(PyObject *module, PyObject *args) {
    PyObject *capsule, *texts;
    if (!PyArg_ParseTuple(args, "OO!", &capsule, &PyList_Type, &texts)) return NULL;
    Segmenter *segmenter = get_segmenter(capsule);
    if (segmenter == NULL || taken_bits(segmenter) < 0) return NULL;
    const uint8_t *taken = segmenter->taken;
    Py_UCS4 *found = NULL;
    uint8_t *seen = NULL; /* only once a missing character turns up */
    Py_ssize_t count = 0, capacity = 0;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(texts); i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "text %zd is not str", i);
            goto done;
        }
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        Py_ssize_t length = PyUnicode_GET_LENGTH(text);
        for (Py_ssize_t j = 0; j < length; j++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, j);
            if (taken[ch >> 3] & (1u << (ch & 7))) continue;
            if (seen == NULL && (seen = calloc(CODE_POINTS / 8, 1)) == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            if (seen[ch >> 3] & (1u << (ch & 7))) continue;
            seen[ch >> 3] |= (uint8_t)(1u << (ch & 7));
            if (count == capacity) {
                capacity = capacity ? 2 * capacity : 64;
                if (grow((void **)&found, capacity, sizeof(Py_UCS4)) < 0) {
                    PyErr_NoMemory();
                    goto done;
                }
            }
            found[count++] = ch;
        }
    }
    result = count ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, found, count) : PyUnicode_New(0, 0);
done:
    free(found);
    free(seen);
    return result;
}

PyDoc_STRVAR(seg_mark_doc,
             "seg_mark(segmenter, chars) -> None\n\n"
             "Mark the characters of ``chars`` as taken (their buckets were offered to seg_add).");

static PyObject *seg_mark(PyObject *module, PyObject *args) {
    PyObject *capsule, *chars;
    if (!PyArg_ParseTuple(args, "OU", &capsule, &chars)) return NULL;
    Segmenter *segmenter = get_segmenter(capsule);
    if (segmenter == NULL || taken_bits(segmenter) < 0) return NULL;
    int kind = PyUnicode_KIND(chars);
    const void *data = PyUnicode_DATA(chars);
    for (Py_ssize_t j = 0; j < PyUnicode_GET_LENGTH(chars); j++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, j);
        segmenter->taken[ch >> 3] |= (uint8_t)(1u << (ch & 7));
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(seg_add_doc,
             "seg_add(segmenter, words) -> None\n\n"
             "Copy ``words`` (word -> score, or None for a prefix that is not a word: one bucket of\n"
             "fastseg's dictionary) into the segmenter's dictionary.");

static PyObject *seg_add(PyObject *module, PyObject *args) {
    PyObject *capsule, *words;
    if (!PyArg_ParseTuple(args, "OO!", &capsule, &PyDict_Type, &words)) return NULL;
    Segmenter *segmenter = get_segmenter(capsule);
    if (segmenter == NULL) return NULL;
    /* the items are copied out first, under the GIL; the shared table is changed under the
     * write lock without the GIL, so a thread cutting without the GIL is never waited on
     * while holding it */
    Table fresh = {0};
    fresh.reserve = (size_t)PyDict_GET_SIZE(words);
    Py_UCS4 *buffer = NULL;
    Py_ssize_t capacity = 0, position = 0;
    PyObject *key, *value;
    while (PyDict_Next(words, &position, &key, &value)) {
        double score = 0.0;
        if (value != Py_None) {
            score = PyFloat_AsDouble(value);
            if (score == -1.0 && PyErr_Occurred()) goto fail;
        }
        Py_ssize_t length = str_chars(key, &buffer, &capacity);
        if (length < 0) goto fail;
        if (table_put(&fresh, buffer, (size_t)length, value != Py_None, score) < 0) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    PyMem_Free(buffer);
    buffer = NULL;
    int status = 0;
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_wrlock(&segmenter->lock);
    if (table_grow_slots(&segmenter->dictionary, segmenter->dictionary.size + fresh.size) < 0) status = -1;
    for (size_t i = 0; i < fresh.size && status >= 0; i++) {
        const Entry *entry = &fresh.entries[i];
        status = table_put(&segmenter->dictionary, entry_chars(&fresh, entry), entry->length, entry->value,
                           entry->score);
    }
    pthread_rwlock_unlock(&segmenter->lock);
    Py_END_ALLOW_THREADS
    table_free(&fresh);
    if (status < 0) return PyErr_NoMemory();
    Py_RETURN_NONE;
fail:
    PyMem_Free(buffer);
    table_free(&fresh);
    return NULL;
}

/* A key to look up in a vocabulary: a character n-gram (in the text) or a word n-gram (in
 * Scratch.key when it joins several tokens). */
typedef struct {
    const Py_UCS4 *chars;
    size_t length;
    uint64_t hash;
} Gram;

/* per-call scratch space, grown as needed (plain malloc: used without the GIL) */
typedef struct {
    double *score;
    Py_ssize_t *best_end, *token_start, *token_end;
    Py_ssize_t token_count, chars_capacity;
    Py_UCS4 *key;
    Py_ssize_t key_capacity, key_size;
    Gram *grams;
    Py_ssize_t gram_count, gram_capacity;
    Py_ssize_t *bounds; /* per block: its grams' begin and end, its raw columns' begin and end */
    Py_ssize_t bounds_capacity;
    int64_t *raw, *spare, *columns, *counts;
    double *values;
    Py_ssize_t raw_size, raw_capacity, terms_capacity;
} Scratch;

static void scratch_free(Scratch *s) {
    free(s->score);
    free(s->best_end);
    free(s->token_start);
    free(s->token_end);
    free(s->key);
    free(s->grams);
    free(s->bounds);
    free(s->raw);
    free(s->spare);
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
        if (grow((void **)&s->spare, capacity, sizeof(int64_t)) < 0) return -1;
        s->raw_capacity = capacity;
    }
    s->raw[s->raw_size++] = column;
    return 0;
}

static int push_gram(Scratch *s, const Py_UCS4 *chars, size_t length, uint64_t hash) {
    if (s->gram_count == s->gram_capacity) {
        Py_ssize_t capacity = s->gram_capacity ? 2 * s->gram_capacity : 256;
        if (grow((void **)&s->grams, capacity, sizeof(Gram)) < 0) return -1;
        s->gram_capacity = capacity;
    }
    Gram *gram = &s->grams[s->gram_count++];
    gram->chars = chars;
    gram->length = length;
    gram->hash = hash;
    return 0;
}

static inline void push_token(Scratch *s, Py_ssize_t start, Py_ssize_t end) {
    s->token_start[s->token_count] = start;
    s->token_end[s->token_count] = end;
    s->token_count++;
}

/* jieba's DAG, best route and no-HMM cut of chars[begin:stop] (one run of block characters),
 * as fastseg._cut_block_python: ends are visited in increasing order and ``>=`` keeps the
 * larger end on equal scores, as jieba's max((score, end)) does; runs of single Latin
 * letters and digits are merged. */
static void cut_run(const Segmenter *segmenter, const Py_UCS4 *chars, Py_ssize_t begin, Py_ssize_t stop,
                    Scratch *s) {
    Py_ssize_t n = stop - begin;
    double *score = s->score;
    Py_ssize_t *best_end = s->best_end;
    const Py_UCS4 *run = chars + begin;
    score[n] = 0.0;
    for (Py_ssize_t k = n - 1; k >= 0; k--) {
        double best = segmenter->unknown + score[k + 1];
        int found = 0;
        Py_ssize_t end = k;
        uint64_t hash = FNV_OFFSET;
        for (Py_ssize_t i = k; i < n; i++) {
            hash = hash_step(hash, run[i]);
            const Entry *entry = table_find(&segmenter->dictionary, run + k, (size_t)(i - k + 1), hash);
            if (entry == NULL) break; /* neither a word nor a prefix: no longer word starts at k */
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

/* fastseg._cut_python: runs of block characters cut by jieba's route, whitespace dropped,
 * any other character a token of its own. Tokens go to s->token_start/token_end. The
 * caller holds the segmenter's read lock and has sized the scratch (scratch_chars). */
static void cut_text(const Segmenter *segmenter, const Py_UCS4 *chars, Py_ssize_t length, Scratch *s) {
    s->token_count = 0;
    Py_ssize_t i = 0;
    while (i < length) {
        Py_UCS4 ch = chars[i];
        if (in_han_block(ch)) {
            Py_ssize_t stop = i + 1;
            while (stop < length && in_han_block(chars[stop])) stop++;
            cut_run(segmenter, chars, i, stop, s);
            i = stop;
        } else {
            if (!Py_UNICODE_ISSPACE(ch)) push_token(s, i, i + 1);
            i++;
        }
    }
}

PyDoc_STRVAR(seg_cut_doc,
             "seg_cut(segmenter, text) -> list[str]\n\n"
             "The tokens of ``text`` (fastseg._cut_python over the words added so far).");

static PyObject *seg_cut(PyObject *module, PyObject *args) {
    PyObject *capsule, *text;
    if (!PyArg_ParseTuple(args, "OU", &capsule, &text)) return NULL;
    Segmenter *segmenter = get_segmenter(capsule);
    if (segmenter == NULL) return NULL;
    Py_UCS4 *chars = PyUnicode_AsUCS4Copy(text);
    if (chars == NULL) return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Scratch scratch = {0};
    PyObject *words = NULL;
    if (scratch_chars(&scratch, length) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_rdlock(&segmenter->lock);
    cut_text(segmenter, chars, length, &scratch);
    pthread_rwlock_unlock(&segmenter->lock);
    Py_END_ALLOW_THREADS
    words = PyList_New(scratch.token_count);
    for (Py_ssize_t t = 0; t < scratch.token_count && words != NULL; t++) {
        PyObject *word = PyUnicode_Substring(text, scratch.token_start[t], scratch.token_end[t]);
        if (word == NULL) {
            Py_CLEAR(words);
        } else {
            PyList_SET_ITEM(words, t, word);
        }
    }
done:
    scratch_free(&scratch);
    PyMem_Free(chars);
    return words;
}

/* ---- the kernel ------------------------------------------------------------------------- */

typedef struct {
    int word;
    Py_ssize_t low, high;
    int64_t offset;
    Table vocabulary;
} KernelBlock;

typedef struct {
    PyObject *segmenter_capsule; /* a reference, or NULL when no block reads words */
    Segmenter *segmenter;
    Py_ssize_t block_count;
    KernelBlock *blocks;
    /* the model's own arrays, read in place (a buffer view keeps each alive) */
    Py_buffer views[4];
    int view_count;
    const double *tf, *idf, *coef, *intercept;
    Py_ssize_t tf_size, features, classes;
} Kernel;

#define KERNEL_CAPSULE "boundary_nlp._speedups.Kernel"

static void kernel_free(Kernel *kernel) {
    if (kernel == NULL) return;
    for (Py_ssize_t b = 0; b < kernel->block_count && kernel->blocks != NULL; b++) {
        table_free(&kernel->blocks[b].vocabulary);
    }
    Py_XDECREF(kernel->segmenter_capsule);
    free(kernel->blocks);
    for (int v = 0; v < kernel->view_count; v++) PyBuffer_Release(&kernel->views[v]);
    free(kernel);
}

static void kernel_capsule_destructor(PyObject *capsule) {
    kernel_free(PyCapsule_GetPointer(capsule, KERNEL_CAPSULE));
}

static Kernel *get_kernel(PyObject *capsule) { return PyCapsule_GetPointer(capsule, KERNEL_CAPSULE); }

/* A view of a float64 array kept by the kernel; its data, or NULL with an exception set. */
static const double *view_doubles(Kernel *kernel, PyObject *object, const char *name, Py_ssize_t *count) {
    Py_buffer *view = &kernel->views[kernel->view_count];
    if (get_doubles(object, view, name) < 0) return NULL;
    kernel->view_count++;
    *count = view->len / (Py_ssize_t)sizeof(double);
    return view->buf;
}

/* Fill a block's vocabulary from its terms joined by "\n", column by column; -1 with an
 * exception set when the count differs from ``size`` or a term repeats. */
static int put_joined_terms(KernelBlock *block, Py_ssize_t index, PyObject *joined, Py_ssize_t size) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(joined);
    int kind = PyUnicode_KIND(joined);
    const void *data = PyUnicode_DATA(joined);
    block->vocabulary.reserve = (size_t)size;
    if (size > 0 && table_grow_slots(&block->vocabulary, (size_t)size) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    Py_UCS4 *term = malloc((length + 1) * sizeof(Py_UCS4));
    if (term == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t column = 0, term_length = 0;
    int status = 0;
    for (Py_ssize_t i = 0; size > 0 && i <= length && status == 0; i++) {
        Py_UCS4 ch = i < length ? PyUnicode_READ(kind, data, i) : '\n';
        if (ch != '\n') {
            term[term_length++] = ch;
            continue;
        }
        if (column == size) {
            status = 2;
            break;
        }
        /* a column fits: table_grow_slots refused sizes of 2^32 - 1 entries or more */
        status = table_put(&block->vocabulary, term, (size_t)term_length, (uint32_t)column, 0.0);
        if (status == 1) {
            PyErr_Format(PyExc_ValueError, "block %zd: term %zd repeats an earlier term", index, column);
            status = -1;
        } else if (status < 0) {
            PyErr_NoMemory();
        }
        column++;
        term_length = 0;
    }
    free(term);
    if (status == 0 && column != size) status = 2;
    if (status == 2) {
        PyErr_Format(PyExc_ValueError, "block %zd: the terms are not %zd lines", index, size);
        status = -1;
    }
    return status;
}

PyDoc_STRVAR(kernel_new_doc,
             "kernel_new(blocks, tf_table, idf, coef, intercept, segmenter) -> kernel\n\n"
             "``blocks``: one (is_word, low, high, offset, size, terms) tuple per TF-IDF block, with\n"
             "``terms`` the block's ``size`` terms in column order joined by \"\\n\".\n"
             "``segmenter``: a seg_new segmenter (None when no block reads words).");

static PyObject *kernel_new(PyObject *module, PyObject *args) {
    PyObject *blocks, *table_object, *idf_object, *coef_object, *intercept_object, *segmenter_object;
    if (!PyArg_ParseTuple(args, "O!OOOOO", &PyTuple_Type, &blocks, &table_object, &idf_object, &coef_object,
                          &intercept_object, &segmenter_object)) {
        return NULL;
    }
    Kernel *kernel = calloc(1, sizeof(Kernel));
    if (kernel == NULL) return PyErr_NoMemory();
    Py_ssize_t coef_count = 0, intercept_count = 0;
    kernel->tf = view_doubles(kernel, table_object, "tf_table", &kernel->tf_size);
    if (kernel->tf == NULL) goto fail;
    kernel->idf = view_doubles(kernel, idf_object, "idf", &kernel->features);
    if (kernel->idf == NULL) goto fail;
    kernel->coef = view_doubles(kernel, coef_object, "coef", &coef_count);
    if (kernel->coef == NULL) goto fail;
    kernel->intercept = view_doubles(kernel, intercept_object, "intercept", &intercept_count);
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
    int words = 0;
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        KernelBlock *block = &kernel->blocks[b];
        PyObject *terms;
        int word;
        long long offset;
        Py_ssize_t size;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(blocks, b), "pnnLnU", &word, &block->low, &block->high, &offset,
                              &size, &terms)) {
            goto fail;
        }
        if (block->low < 1 || block->high < block->low) {
            PyErr_SetString(PyExc_ValueError, "bad ngram range");
            goto fail;
        }
        block->word = word;
        block->offset = offset;
        if (offset < 0 || size < 0 || offset + size > kernel->features) {
            PyErr_SetString(PyExc_ValueError, "block columns beyond the idf array");
            goto fail;
        }
        words |= word;
        if (put_joined_terms(block, b, terms, size) < 0) goto fail;
    }
    if (words) {
        kernel->segmenter = get_segmenter(segmenter_object);
        if (kernel->segmenter == NULL) goto fail;
        Py_INCREF(segmenter_object);
        kernel->segmenter_capsule = segmenter_object;
    }
    PyObject *capsule = PyCapsule_New(kernel, KERNEL_CAPSULE, kernel_capsule_destructor);
    if (capsule == NULL) goto fail;
    return capsule;
fail:
    kernel_free(kernel);
    return NULL;
}

/* The word n-grams (tokens joined by one space) of a cut text, their slots fetched. Joined
 * keys go to s->key, which score_one has sized for every word block (reserve_joined): the
 * grams point into it. */
static int word_grams(const KernelBlock *block, const Table *vocabulary, const Py_UCS4 *chars, Scratch *s) {
    for (Py_ssize_t size = block->low; size <= block->high; size++) {
        for (Py_ssize_t start = 0; start + size <= s->token_count; start++) {
            const Py_UCS4 *key;
            Py_ssize_t key_length;
            if (size == 1) {
                key = chars + s->token_start[start];
                key_length = s->token_end[start] - s->token_start[start];
            } else {
                key = s->key + s->key_size;
                key_length = 0;
                for (Py_ssize_t t = start; t < start + size; t++) {
                    if (t > start) s->key[s->key_size + key_length++] = ' ';
                    Py_ssize_t part = s->token_end[t] - s->token_start[t];
                    memcpy(s->key + s->key_size + key_length, chars + s->token_start[t], part * sizeof(Py_UCS4));
                    key_length += part;
                }
                s->key_size += key_length;
            }
            uint64_t hash = hash_chars(key, (size_t)key_length);
            table_prefetch_slot(vocabulary, hash);
            if (push_gram(s, key, (size_t)key_length, hash) < 0) return -1;
        }
    }
    return 0;
}

/* Room in s->key for the joined word n-grams of every word block: a gram of ``size`` tokens
 * has size - 1 spaces, and each token is in at most ``size`` grams of that size. */
static int reserve_joined(const Kernel *kernel, Py_ssize_t length, Scratch *s) {
    Py_ssize_t needed = 0;
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        const KernelBlock *block = &kernel->blocks[b];
        if (!block->word) continue;
        for (Py_ssize_t size = block->low > 2 ? block->low : 2; size <= block->high && size <= s->token_count; size++) {
            needed += size * length + (size - 1) * s->token_count;
        }
    }
    s->key_size = 0;
    if (needed > s->key_capacity) {
        if (grow((void **)&s->key, 2 * needed, sizeof(Py_UCS4)) < 0) return -1;
        s->key_capacity = 2 * needed;
    }
    return 0;
}

/* The character n-grams of a text, their slots fetched. */
static int char_grams(const KernelBlock *block, const Table *vocabulary, const Py_UCS4 *chars, Py_ssize_t length,
                      Scratch *s) {
    for (Py_ssize_t start = 0; start < length; start++) {
        uint64_t hash = FNV_OFFSET;
        for (Py_ssize_t size = 1; size <= block->high && start + size <= length; size++) {
            hash = hash_step(hash, chars[start + size - 1]);
            if (size >= block->low) {
                table_prefetch_slot(vocabulary, hash);
                if (push_gram(s, chars + start, (size_t)size, hash) < 0) return -1;
            }
        }
    }
    return 0;
}

/* One text's TF-IDF terms (s->columns, s->values: ``*distinct`` of them, by block, then
 * column) and decision values into ``decision``: 0, 1 when a count is beyond the tf table
 * (the caller uses numpy for that text), -1 when out of memory. The caller holds the
 * segmenter's read lock.
 *
 * The lookups run in stages over all of the text's n-grams so that their cache misses
 * overlap (see table_prefetch_slot): the grams and their slots, the character blocks' before
 * the cut so the route's own lookups run while those slots arrive; then the entries; then
 * the columns, with their idf and coef rows fetched; then the arithmetic. */
static int score_one(const Kernel *kernel, const Py_UCS4 *chars, Py_ssize_t length, Scratch *s, double *decision,
                     Py_ssize_t *distinct_out) {
    if (scratch_chars(s, length) < 0) return -1;
    if (4 * kernel->block_count > s->bounds_capacity) {
        if (grow((void **)&s->bounds, 4 * kernel->block_count, sizeof(Py_ssize_t)) < 0) return -1;
        s->bounds_capacity = 4 * kernel->block_count;
    }
    Py_ssize_t *bounds = s->bounds;
    s->gram_count = 0;
    for (int words = 0; words <= 1; words++) {
        if (words) {
            if (kernel->segmenter == NULL) break;
            cut_text(kernel->segmenter, chars, length, s);
            if (reserve_joined(kernel, length, s) < 0) return -1;
        }
        for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
            const KernelBlock *block = &kernel->blocks[b];
            if (block->word != words) continue;
            bounds[4 * b] = s->gram_count;
            if ((words ? word_grams(block, &block->vocabulary, chars, s)
                       : char_grams(block, &block->vocabulary, chars, length, s)) < 0) {
                return -1;
            }
            bounds[4 * b + 1] = s->gram_count;
        }
    }
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        const Table *vocabulary = &kernel->blocks[b].vocabulary;
        for (Py_ssize_t g = bounds[4 * b]; g < bounds[4 * b + 1]; g++) table_prefetch_entry(vocabulary, s->grams[g].hash);
    }
    Py_ssize_t classes = kernel->classes;
    s->raw_size = 0;
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        const KernelBlock *block = &kernel->blocks[b];
        bounds[4 * b + 2] = s->raw_size;
        for (Py_ssize_t g = bounds[4 * b]; g < bounds[4 * b + 1]; g++) {
            const Gram *gram = &s->grams[g];
            const Entry *entry = table_find(&block->vocabulary, gram->chars, gram->length, gram->hash);
            if (entry == NULL) continue;
            if (push_raw(s, entry->value) < 0) return -1;
            int64_t column = entry->value + block->offset;
            if (column < kernel->features) { /* a hint: never fetch beyond the arrays */
                PREFETCH(&kernel->idf[column]);
                PREFETCH(&kernel->coef[column * classes]);
                PREFETCH(&kernel->coef[column * classes + classes - 1]);
            }
        }
        bounds[4 * b + 3] = s->raw_size;
    }
    if (s->raw_size > s->terms_capacity) {
        Py_ssize_t capacity = 2 * s->raw_size;
        if (grow((void **)&s->columns, capacity, sizeof(int64_t)) < 0 ||
            grow((void **)&s->counts, capacity, sizeof(int64_t)) < 0 ||
            grow((void **)&s->values, capacity, sizeof(double)) < 0) {
            return -1;
        }
        s->terms_capacity = capacity;
    }
    Py_ssize_t distinct = 0;
    for (Py_ssize_t b = 0; b < kernel->block_count; b++) {
        const KernelBlock *block = &kernel->blocks[b];
        /* LinearTextModel.tfidf's arithmetic, step for step: tf -> x idf -> / block L2 norm */
        Py_ssize_t start = distinct;
        distinct += distinct_counts(s->raw + bounds[4 * b + 2], bounds[4 * b + 3] - bounds[4 * b + 2], s->spare,
                                    block->offset, s->columns + start, s->counts + start);
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
    /* _decisions_from_tfidf: per class, the terms' coef x value summed in column order (each
     * class's sum is its own: walking the terms once for all classes adds in the same order) */
    for (Py_ssize_t k = 0; k < classes; k++) decision[k] = 0.0;
    for (Py_ssize_t i = 0; i < distinct; i++) {
        const double *row = &kernel->coef[s->columns[i] * classes];
        for (Py_ssize_t k = 0; k < classes; k++) decision[k] += row[k] * s->values[i];
    }
    for (Py_ssize_t k = 0; k < classes; k++) decision[k] += kernel->intercept[k];
    *distinct_out = distinct;
    return 0;
}

static void read_lock(const Kernel *kernel) {
    if (kernel->segmenter != NULL) pthread_rwlock_rdlock(&kernel->segmenter->lock);
}

static void read_unlock(const Kernel *kernel) {
    if (kernel->segmenter != NULL) pthread_rwlock_unlock(&kernel->segmenter->lock);
}

/* text.content_text, character for character: what is neither a word character (re's \w,
 * str.isalnum) nor whitespace (re's \s, str.isspace), and "_", becomes a space; each run of
 * decimal digits (re's \d) becomes one "0"; whitespace runs become one space, none at either
 * end (str.split). re and str use these same Unicode predicates. ``out`` holds at least
 * ``length`` characters and may be ``chars`` itself (a character is written only where one
 * was already read); returns how many it got. */
static Py_ssize_t content_chars(const Py_UCS4 *chars, Py_ssize_t length, Py_UCS4 *out) {
    Py_ssize_t size = 0;
    int space_due = 0, in_digits = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 ch = chars[i];
        if (ch == '_' || Py_UNICODE_ISSPACE(ch) || !Py_UNICODE_ISALNUM(ch)) {
            space_due = size > 0;
            in_digits = 0;
            continue;
        }
        if (Py_UNICODE_ISDECIMAL(ch)) {
            if (in_digits) continue;
            in_digits = 1;
            ch = '0';
        } else {
            in_digits = 0;
        }
        if (space_due) {
            out[size++] = ' ';
            space_due = 0;
        }
        out[size++] = ch;
    }
    return size;
}

PyDoc_STRVAR(content_text_doc,
             "content_text(text) -> str\n\n"
             "text.content_text(text), as kernel_score(..., content=True) reads each text.");

static PyObject *content_text(PyObject *module, PyObject *args) {
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    Py_UCS4 *chars = PyUnicode_AsUCS4Copy(text);
    if (chars == NULL) return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *out = malloc((length ? length : 1) * sizeof(Py_UCS4));
    PyObject *result = NULL;
    if (out == NULL) {
        PyErr_NoMemory();
    } else {
        result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, content_chars(chars, length, out));
    }
    PyMem_Free(chars);
    free(out);
    return result;
}

PyDoc_STRVAR(kernel_score_doc,
             "kernel_score(kernel, texts, out, content=False) -> list[int]\n\n"
             "Decision values of every text (a list of str, already read as the model reads them;\n"
             "with ``content``, read before text.content_text, which the kernel then applies: see\n"
             "content_text) into ``out`` (a writable C-contiguous float64 array of len(texts) x\n"
             "classes), with the GIL released. Returns the rows with a count beyond the tf table:\n"
             "their ``out`` rows are not written and the caller scores them with numpy.");

static PyObject *kernel_score(PyObject *module, PyObject *args) {
    PyObject *capsule, *texts, *out_object;
    int content = 0;
    if (!PyArg_ParseTuple(args, "OO!O|p", &capsule, &PyList_Type, &texts, &out_object, &content)) return NULL;
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
    read_lock(kernel);
    for (Py_ssize_t i = 0; i < n && status >= 0; i++) {
        Py_ssize_t distinct;
        Py_ssize_t length = starts[i + 1] - starts[i];
        if (content) length = content_chars(pool + starts[i], length, pool + starts[i]); /* in place */
        int one = score_one(kernel, pool + starts[i], length, &scratch, decision + i * kernel->classes, &distinct);
        if (one > 0) fallback[i] = 1;
        if (one < 0) status = -1;
    }
    read_unlock(kernel);
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

PyDoc_STRVAR(kernel_features_doc,
             "kernel_features(kernel, text) -> (columns, values, decision) | None\n\n"
             "One text's TF-IDF terms and decision values as raw bytes (int64 columns in increasing\n"
             "order, float64 values, float64 decision values): what kernel_score computes for it.\n"
             "None when a count is beyond the tf table (the caller then uses numpy).");

static PyObject *kernel_features(PyObject *module, PyObject *args) {
    PyObject *capsule, *text;
    if (!PyArg_ParseTuple(args, "OU", &capsule, &text)) return NULL;
    Kernel *kernel = get_kernel(capsule);
    if (kernel == NULL) return NULL;
    Py_UCS4 *chars = PyUnicode_AsUCS4Copy(text);
    if (chars == NULL) return NULL;
    double *decision = malloc(kernel->classes * sizeof(double));
    PyObject *result = NULL;
    Scratch scratch = {0};
    Py_ssize_t distinct = 0;
    int status = -1;
    if (decision != NULL) {
        Py_BEGIN_ALLOW_THREADS
        read_lock(kernel);
        status = score_one(kernel, chars, PyUnicode_GET_LENGTH(text), &scratch, decision, &distinct);
        read_unlock(kernel);
        Py_END_ALLOW_THREADS
    }
    if (status < 0) {
        PyErr_NoMemory();
    } else if (status > 0) {
        result = Py_NewRef(Py_None);
    } else {
        /* "y#" makes None of a NULL pointer: a text without terms has no arrays yet */
        static const char nothing[1] = {0};
        const char *columns = scratch.columns ? (const char *)scratch.columns : nothing;
        const char *values = scratch.values ? (const char *)scratch.values : nothing;
        result = Py_BuildValue("(y#y#y#)", columns, distinct * (Py_ssize_t)sizeof(int64_t), values,
                               distinct * (Py_ssize_t)sizeof(double),
                               (const char *)decision, kernel->classes * (Py_ssize_t)sizeof(double));
    }
    scratch_free(&scratch);
    free(decision);
    PyMem_Free(chars);
    return result;
}

static PyMethodDef methods[] = {
    {"seg_new", seg_new, METH_VARARGS, seg_new_doc},
    {"seg_add", seg_add, METH_VARARGS, seg_add_doc},
    {"seg_cut", seg_cut, METH_VARARGS, seg_cut_doc},
    {"seg_missing", seg_missing, METH_VARARGS, seg_missing_doc},
    {"seg_mark", seg_mark, METH_VARARGS, seg_mark_doc},
    {"kernel_new", kernel_new, METH_VARARGS, kernel_new_doc},
    {"kernel_score", kernel_score, METH_VARARGS, kernel_score_doc},
    {"kernel_features", kernel_features, METH_VARARGS, kernel_features_doc},
    {"content_text", content_text, METH_VARARGS, content_text_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "boundary_nlp._speedups",
    "The optional C backend of boundary_nlp (same results as its Python code).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module_definition); }
