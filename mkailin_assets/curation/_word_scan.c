/* Fast path for benchmark twins (curation/twins.py): words hashed and n-grams found in C.
 *
 * Why C: tokenising a release file's 30,000 titles and abstracts with Polars (fold, split,
 * explode, hash) costs about 0.25 s, most of the twin step; one pass over the bytes here costs a
 * few hundredths. The reference stays in twins.py (`words_of_reference`); tests compare the two
 * on hand-made and real texts and compare the twins found.
 *
 * The contract (twins.py prepares the texts, this file splits them):
 *   - a text is already NFKC-normalised, and a text with non-ASCII characters is already folded
 *     the reference way (lowercase, every character that is not a word character or a space
 *     replaced by a space); an ASCII text is raw;
 *   - a word is a maximal run of [0-9A-Za-z_] or of bytes >= 0x80 (in a folded text every
 *     non-ASCII byte left belongs to a word character), lowercased: for an ASCII text this is the
 *     reference fold, for a folded text it is the reference split on spaces;
 *   - a word's hash: its bytes read as little-endian 8-byte lanes (the last one zero-padded),
 *     h = OFFSET, h = (h ^ lane) * MIX for each lane, then h ^= length and splitmix64's
 *     finaliser (one multiply per 8 bytes, not per byte: the scan is about twice as fast);
 *   - an n-gram's hash is sum(h[s + k] * MIX^(n - 1 - k)) mod 2^64 (twins.ngram_hashes_at's
 *     Horner form), rolled here.
 *
 * word_hashes(offsets, data, first_doc) -> (doc, hash)
 *   offsets   buffer of n + 1 int64: text i is data[offsets[i]:offsets[i + 1]] (Arrow layout)
 *   data      buffer of UTF-8 bytes
 *   first_doc the doc number of text 0
 *   returns two bytearrays: int64 doc numbers and uint64 hashes, one per word in text order
 *
 * ngram_hashes(doc, hash, n, vocabulary) -> (starts, hashes)
 *   doc, hash   as word_hashes returns them (buffers of int64 and uint64)
 *   vocabulary  None, or a buffer of uint64 word hashes: n-grams only over words in it
 *   returns two bytearrays: int64 offsets of n-grams lying within one doc (and the vocabulary),
 *   and their uint64 hashes
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define MIX 0x9E3779B97F4A7C15ULL

static unsigned char is_word[256];
static unsigned char lower[256];

static void init_tables(void) {
    for (int c = 0; c < 256; c++) {
        is_word[c] = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     c == '_' || c >= 0x80;
        lower[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
}

static inline uint64_t finish(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* ---- growable output (a bytearray of 8-byte items) --------------------------------------- */
typedef struct {
    PyObject *array;
    uint64_t *items; /* the bytearray's storage (moves when it grows) */
    Py_ssize_t len, cap;
} Out;

static int out_init(Out *o, Py_ssize_t cap) {
    o->len = 0;
    o->cap = cap < 1024 ? 1024 : cap;
    o->array = PyByteArray_FromStringAndSize(NULL, o->cap * 8);
    if (!o->array) return -1;
    o->items = (uint64_t *)PyByteArray_AS_STRING(o->array);
    return 0;
}

static int out_grow(Out *o) {
    Py_ssize_t cap = o->cap * 2;
    if (PyByteArray_Resize(o->array, cap * 8) < 0) return -1;
    o->items = (uint64_t *)PyByteArray_AS_STRING(o->array);
    o->cap = cap;
    return 0;
}

static inline int out_put(Out *o, uint64_t value) {
    if (o->len == o->cap && out_grow(o) < 0) return -1;
    o->items[o->len++] = value;
    return 0;
}

static int out_finish(Out *o) { return PyByteArray_Resize(o->array, o->len * 8); }

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (itemsize > 1 && view->len % itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of %zd-byte items",
                     what, view->len, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* ---- word_hashes -------------------------------------------------------------------------- */
static PyObject *word_hashes(PyObject *self, PyObject *args) {
    PyObject *offsets_obj, *data_obj, *result = NULL;
    long long first_doc;
    Py_buffer offsets, data;
    Out docs = {0}, hashes = {0};
    if (!PyArg_ParseTuple(args, "OOL", &offsets_obj, &data_obj, &first_doc)) return NULL;
    if (get_buffer(offsets_obj, &offsets, 8, "offsets") < 0) return NULL;
    if (get_buffer(data_obj, &data, 1, "data") < 0) {
        PyBuffer_Release(&offsets);
        return NULL;
    }
    const int64_t *off = (const int64_t *)offsets.buf;
    const unsigned char *bytes = (const unsigned char *)data.buf;
    Py_ssize_t texts = offsets.len / 8 - 1;
    /* About one word per seven bytes of English text; the arrays grow if not. */
    if (out_init(&docs, data.len / 6) < 0 || out_init(&hashes, data.len / 6) < 0) goto done;
    for (Py_ssize_t i = 0; i < texts; i++) {
        int64_t start = off[i], end = off[i + 1];
        if (start < 0 || end < start || end > data.len) {
            PyErr_Format(PyExc_ValueError, "text %zd: offsets %lld..%lld outside %zd bytes", i,
                         (long long)start, (long long)end, data.len);
            goto done;
        }
        int64_t doc = first_doc + i;
        uint64_t h = FNV_OFFSET, lane = 0;
        int64_t length = 0;
        for (int64_t p = start; p <= end; p++) {
            unsigned char c = p < end ? bytes[p] : ' '; /* a separator closes the last word */
            if (is_word[c]) {
                lane |= (uint64_t)lower[c] << (8 * (length & 7));
                if ((++length & 7) == 0) {
                    h = (h ^ lane) * MIX;
                    lane = 0;
                }
            } else if (length) {
                if (length & 7) h = (h ^ lane) * MIX;
                if (out_put(&docs, (uint64_t)doc) < 0 ||
                    out_put(&hashes, finish(h ^ (uint64_t)length)) < 0)
                    goto done;
                h = FNV_OFFSET;
                lane = 0;
                length = 0;
            }
        }
    }
    if (out_finish(&docs) < 0 || out_finish(&hashes) < 0) goto done;
    result = PyTuple_Pack(2, docs.array, hashes.array);
done:
    Py_XDECREF(docs.array);
    Py_XDECREF(hashes.array);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

/* ---- a set of uint64 (open addressing; the vocabulary of a benchmark) --------------------- */
typedef struct {
    uint64_t *keys;
    unsigned char *used;
    uint64_t mask;
    int shift;
} Set;

static inline uint64_t slot_of(const Set *s, uint64_t key) { return (key * MIX) >> s->shift; }

static int set_init(Set *s, const uint64_t *keys, Py_ssize_t count) {
    int bits = 4;
    while (((Py_ssize_t)1 << bits) < 2 * count) bits++;
    s->mask = ((uint64_t)1 << bits) - 1;
    s->shift = 64 - bits;
    s->keys = PyMem_Calloc((size_t)1 << bits, sizeof(uint64_t));
    s->used = PyMem_Calloc((size_t)1 << bits, 1);
    if (!s->keys || !s->used) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t slot = slot_of(s, keys[i]);
        while (s->used[slot] && s->keys[slot] != keys[i]) slot = (slot + 1) & s->mask;
        s->used[slot] = 1;
        s->keys[slot] = keys[i];
    }
    return 0;
}

static inline int set_has(const Set *s, uint64_t key) {
    uint64_t slot = slot_of(s, key);
    while (s->used[slot]) {
        if (s->keys[slot] == key) return 1;
        slot = (slot + 1) & s->mask;
    }
    return 0;
}

static void set_free(Set *s) {
    PyMem_Free(s->keys);
    PyMem_Free(s->used);
}

/* ---- ngram_hashes ------------------------------------------------------------------------- */
static PyObject *ngram_hashes(PyObject *self, PyObject *args) {
    PyObject *doc_obj, *hash_obj, *vocabulary_obj, *result = NULL;
    Py_ssize_t n;
    Py_buffer docs, hashes, vocabulary = {0};
    Set set = {0};
    Out starts = {0}, grams = {0};
    if (!PyArg_ParseTuple(args, "OOnO", &doc_obj, &hash_obj, &n, &vocabulary_obj)) return NULL;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "n must be at least 1");
        return NULL;
    }
    if (get_buffer(doc_obj, &docs, 8, "doc") < 0) return NULL;
    if (get_buffer(hash_obj, &hashes, 8, "hash") < 0) {
        PyBuffer_Release(&docs);
        return NULL;
    }
    int filtered = vocabulary_obj != Py_None;
    if (docs.len != hashes.len) {
        PyErr_SetString(PyExc_ValueError, "doc and hash differ in length");
        goto done;
    }
    if (filtered) {
        if (get_buffer(vocabulary_obj, &vocabulary, 8, "vocabulary") < 0) goto done;
        if (set_init(&set, (const uint64_t *)vocabulary.buf, vocabulary.len / 8) < 0) goto done;
    }
    const int64_t *doc = (const int64_t *)docs.buf;
    const uint64_t *h = (const uint64_t *)hashes.buf;
    Py_ssize_t words = docs.len / 8;
    uint64_t top = 1; /* MIX^n, to take the oldest word out of the rolling hash */
    for (Py_ssize_t k = 0; k < n; k++) top *= MIX;
    if (out_init(&starts, words / 4) < 0 || out_init(&grams, words / 4) < 0) goto done;
    Py_ssize_t run = 0; /* words in the current run (one doc, all in the vocabulary) */
    uint64_t rolled = 0;
    for (Py_ssize_t i = 0; i < words; i++) {
        if (i > 0 && doc[i] != doc[i - 1]) run = 0;
        if (filtered && !set_has(&set, h[i])) {
            run = 0;
            continue;
        }
        if (run == 0) rolled = 0;
        rolled = rolled * MIX + h[i];
        run++;
        if (run > n) rolled -= h[i - n] * top;
        if (run >= n) {
            if (out_put(&starts, (uint64_t)(i - n + 1)) < 0 || out_put(&grams, rolled) < 0)
                goto done;
        }
    }
    if (out_finish(&starts) < 0 || out_finish(&grams) < 0) goto done;
    result = PyTuple_Pack(2, starts.array, grams.array);
done:
    if (filtered) set_free(&set);
    Py_XDECREF(starts.array);
    Py_XDECREF(grams.array);
    if (vocabulary.obj) PyBuffer_Release(&vocabulary);
    PyBuffer_Release(&docs);
    PyBuffer_Release(&hashes);
    return result;
}

static PyMethodDef methods[] = {
    {"word_hashes", word_hashes, METH_VARARGS,
     "word_hashes(offsets, data, first_doc) -> (doc, hash) bytearrays of int64 and uint64"},
    {"ngram_hashes", ngram_hashes, METH_VARARGS,
     "ngram_hashes(doc, hash, n, vocabulary) -> (starts, hashes) bytearrays of int64, uint64"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_word_scan",
    "Word and n-gram hashes for benchmark twins (see _word_scan.c for the contract).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__word_scan(void) {
    init_tables();
    return PyModule_Create(&module);
}
