/* Fast path for PubmedArticle records: one pass over the bytes, columns out.
 *
 * Why C: building an lxml tree and walking it from Python costs ~110 us per citation; this scan
 * costs a few. It accepts a strict subset of well-formed XML (ASCII names without prefixes,
 * quoted attributes without raw tabs or newlines, the five predefined entities and character
 * references, valid UTF-8, no comments, processing instructions, CDATA or DOCTYPE) and the usual
 * PubmedArticle shape. Anything else - a book, a DeleteCitation, a record without a PMID, MathML
 * with a namespace prefix, an element twice where the Python parser would take the first or the
 * last, a malformed byte - is handed back to the caller's `fallback`, which parses that record
 * with lxml. So whatever is accepted here yields exactly what pubmed_records.parse_pubmed_article
 * yields (tests compare both over real NLM files), and every error comes from lxml.
 *
 * The contract with Python lives in pubmed_columns.py: the lists are appended to in the order
 * of SCAN_COLUMNS below, exported as COLUMNS and checked against pubmed_columns.SCANNER_COLUMNS
 * before use (pubmed_columns.check_scanner); content_hash is pubmed_columns.content_hash,
 * called for every record (looked up on each call, so there is no second definition here).
 *
 * scan_chunk(data, line, seq_base, position, columns, fallback) -> (articles, position)
 *   data      bytes holding whole top-level records (a chunk cut by iter_record_chunks)
 *   line      line number of data's first byte in the file
 *   columns   the lists of pubmed_columns.CitationColumns.lists() (order: COLUMNS), appended to
 *   fallback  fallback(start, end, line, position) -> (position, stop); end == -1 means "from
 *             start to the end of data"; stop tells the scan that the rest was handled
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_ATTRS 16

static PyObject *columns_module;  /* mkailin_assets.ingest.pubmed_columns */
static PyObject *str_empty, *str_newline, *str_space, *str_unassigned, *str_content_hash;
static PyObject *str_strip;

/* ---- growable byte buffer ---------------------------------------------------------------- */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
    int non_ascii;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (!data) { PyErr_NoMemory(); return -1; }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const unsigned char *p, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_reset(Buf *b) { b->len = 0; b->non_ascii = 0; }

/* ---- scanning --------------------------------------------------------------------------- */
/* Results of the low-level steps: OK, FALLBACK (outside the subset: let lxml decide), ERROR
 * (a Python exception is set). */
enum { OK = 0, FALLBACK = 1, ERROR = -1 };

typedef struct {
    const unsigned char *s;
    Py_ssize_t n, i;
    Py_ssize_t line;
} Cursor;

static inline int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static inline int name_start(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static inline int name_char(unsigned char c) {
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Validate one multi-byte UTF-8 sequence (a character XML allows) starting at cur->i. */
static int utf8_char(Cursor *cur, Py_ssize_t *len_out) {
    const unsigned char *p = cur->s + cur->i;
    Py_ssize_t left = cur->n - cur->i;
    unsigned char c = p[0];
    Py_UCS4 cp;
    Py_ssize_t len;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return FALLBACK;
    if (left < len) return FALLBACK;
    for (Py_ssize_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80) return FALLBACK;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return FALLBACK;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return FALLBACK;
    *len_out = len;
    return OK;
}

static int put_codepoint(Buf *b, Py_UCS4 cp) {
    unsigned char tmp[4];
    Py_ssize_t n;
    if (cp < 0x80) { tmp[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) { tmp[0] = 0xC0 | (cp >> 6); tmp[1] = 0x80 | (cp & 0x3F); n = 2; }
    else if (cp < 0x10000) {
        tmp[0] = 0xE0 | (cp >> 12); tmp[1] = 0x80 | ((cp >> 6) & 0x3F); tmp[2] = 0x80 | (cp & 0x3F);
        n = 3;
    } else {
        tmp[0] = 0xF0 | (cp >> 18); tmp[1] = 0x80 | ((cp >> 12) & 0x3F);
        tmp[2] = 0x80 | ((cp >> 6) & 0x3F); tmp[3] = 0x80 | (cp & 0x3F); n = 4;
    }
    if (cp >= 0x80) b->non_ascii = 1;
    return buf_put(b, tmp, n);
}

/* An entity or character reference at cur->i ('&'); decoded into out when out != NULL. */
static int reference(Cursor *cur, Buf *out) {
    const unsigned char *p = cur->s + cur->i + 1;
    Py_ssize_t left = cur->n - cur->i - 1;
    Py_ssize_t end = 0;
    while (end < left && end < 12 && p[end] != ';') end++;
    if (end >= left || p[end] != ';' || end == 0) return FALLBACK;
    Py_UCS4 cp = 0;
    if (p[0] == '#') {
        Py_ssize_t k = 1;
        int hex = end > 1 && p[1] == 'x';
        if (hex) k = 2;
        if (k >= end) return FALLBACK;
        for (; k < end; k++) {
            unsigned char c = p[k];
            int digit;
            if (c >= '0' && c <= '9') digit = c - '0';
            else if (hex && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
            else return FALLBACK;
            cp = cp * (hex ? 16 : 10) + digit;
            if (cp > 0x10FFFF) return FALLBACK;
        }
        if (!(cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
              (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF)))
            return FALLBACK;
    } else if (end == 2 && p[0] == 'l' && p[1] == 't') cp = '<';
    else if (end == 2 && p[0] == 'g' && p[1] == 't') cp = '>';
    else if (end == 3 && memcmp(p, "amp", 3) == 0) cp = '&';
    else if (end == 4 && memcmp(p, "quot", 4) == 0) cp = '"';
    else if (end == 4 && memcmp(p, "apos", 4) == 0) cp = '\'';
    else return FALLBACK;
    cur->i += end + 2;
    if (out && put_codepoint(out, cp) < 0) return ERROR;
    return OK;
}

/* Character data up to the next '<' (or the end), validated; decoded into out when given. */
static int char_data(Cursor *cur, Buf *out) {
    while (cur->i < cur->n) {
        Py_ssize_t start = cur->i;
        /* Runs of plain ASCII are copied at once. */
        while (cur->i < cur->n) {
            unsigned char c = cur->s[cur->i];
            if (c >= 0x20 && c < 0x80 && c != '<' && c != '&' && c != ']') { cur->i++; continue; }
            if (c == '\n') { cur->line++; cur->i++; continue; }
            if (c == '\t') { cur->i++; continue; }
            break;
        }
        if (out && cur->i > start && buf_put(out, cur->s + start, cur->i - start) < 0) return ERROR;
        if (cur->i >= cur->n) return OK;
        unsigned char c = cur->s[cur->i];
        if (c == '<') return OK;
        if (c == '&') {
            int r = reference(cur, out);
            if (r != OK) return r;
        } else if (c == ']') {
            if (cur->i + 2 < cur->n && cur->s[cur->i + 1] == ']' && cur->s[cur->i + 2] == '>')
                return FALLBACK;  /* "]]>" is not allowed in content */
            if (out && buf_put(out, cur->s + cur->i, 1) < 0) return ERROR;
            cur->i++;
        } else if (c >= 0x80) {
            Py_ssize_t len;
            if (utf8_char(cur, &len) != OK) return FALLBACK;
            if (out) {
                if (buf_put(out, cur->s + cur->i, len) < 0) return ERROR;
                out->non_ascii = 1;
            }
            cur->i += len;
        } else {
            return FALLBACK;  /* control characters, and '\r' (line-end normalisation) */
        }
    }
    return OK;
}

typedef struct {
    const unsigned char *name;
    Py_ssize_t name_len;
    Py_ssize_t value_start, value_len;  /* decoded value in the tag's attribute buffer */
    int value_non_ascii;
} Attr;

typedef struct {
    const unsigned char *name;
    Py_ssize_t name_len;
    int self_closing;
    int n_attrs;
    Attr attrs[MAX_ATTRS];
    Buf values;
} Tag;

static void skip_ws(Cursor *cur) {
    while (cur->i < cur->n && is_ws(cur->s[cur->i])) {
        if (cur->s[cur->i] == '\n') cur->line++;
        cur->i++;
    }
}

static int name_at(Cursor *cur, const unsigned char **name, Py_ssize_t *len) {
    Py_ssize_t start = cur->i;
    if (cur->i >= cur->n || !name_start(cur->s[cur->i])) return FALLBACK;
    while (cur->i < cur->n && name_char(cur->s[cur->i])) cur->i++;
    *name = cur->s + start;
    *len = cur->i - start;
    return OK;
}

/* Attribute value between quotes; raw tabs/newlines/'\r' would be normalised by a parser, so
 * they fall back rather than being reproduced here. */
static int attr_value(Cursor *cur, Tag *tag, Attr *attr) {
    unsigned char quote = cur->s[cur->i];
    if (quote != '"' && quote != '\'') return FALLBACK;
    cur->i++;
    Buf *out = &tag->values;
    int was_non_ascii = out->non_ascii;
    out->non_ascii = 0;
    attr->value_start = out->len;
    for (;;) {
        if (cur->i >= cur->n) return FALLBACK;
        unsigned char c = cur->s[cur->i];
        if (c == quote) { cur->i++; break; }
        if (c == '<' || c < 0x20) return FALLBACK;
        if (c == '&') {
            int r = reference(cur, out);
            if (r != OK) return r;
        } else if (c >= 0x80) {
            Py_ssize_t len;
            if (utf8_char(cur, &len) != OK) return FALLBACK;
            if (buf_put(out, cur->s + cur->i, len) < 0) return ERROR;
            out->non_ascii = 1;
            cur->i += len;
        } else {
            if (buf_put(out, cur->s + cur->i, 1) < 0) return ERROR;
            cur->i++;
        }
    }
    attr->value_len = out->len - attr->value_start;
    attr->value_non_ascii = out->non_ascii;
    out->non_ascii |= was_non_ascii;
    return OK;
}

/* A start tag; cur->i is just after '<'. */
static int start_tag(Cursor *cur, Tag *tag) {
    buf_reset(&tag->values);
    tag->n_attrs = 0;
    tag->self_closing = 0;
    int r = name_at(cur, &tag->name, &tag->name_len);
    if (r != OK) return r;
    for (;;) {
        Py_ssize_t before = cur->i;
        skip_ws(cur);
        if (cur->i >= cur->n) return FALLBACK;
        unsigned char c = cur->s[cur->i];
        if (c == '>') { cur->i++; return OK; }
        if (c == '/') {
            if (cur->i + 1 < cur->n && cur->s[cur->i + 1] == '>') {
                cur->i += 2;
                tag->self_closing = 1;
                return OK;
            }
            return FALLBACK;
        }
        if (cur->i == before || tag->n_attrs == MAX_ATTRS) return FALLBACK;
        Attr *attr = &tag->attrs[tag->n_attrs];
        r = name_at(cur, &attr->name, &attr->name_len);
        if (r != OK) return r;
        for (int k = 0; k < tag->n_attrs; k++)  /* a repeated attribute is malformed */
            if (tag->attrs[k].name_len == attr->name_len &&
                memcmp(tag->attrs[k].name, attr->name, attr->name_len) == 0)
                return FALLBACK;
        if (attr->name_len >= 5 && memcmp(attr->name, "xmlns", 5) == 0) return FALLBACK;
        skip_ws(cur);
        if (cur->i >= cur->n || cur->s[cur->i] != '=') return FALLBACK;
        cur->i++;
        skip_ws(cur);
        if (cur->i >= cur->n) return FALLBACK;
        r = attr_value(cur, tag, attr);
        if (r != OK) return r;
        tag->n_attrs++;
    }
}

static inline int name_is(const unsigned char *name, Py_ssize_t len, const char *literal) {
    Py_ssize_t n = (Py_ssize_t)strlen(literal);
    return n == len && memcmp(name, literal, n) == 0;
}

/* The attribute as a new str, or NULL with no exception when absent. */
static PyObject *attr_str(Tag *tag, const char *name, int *missing) {
    for (int k = 0; k < tag->n_attrs; k++) {
        Attr *a = &tag->attrs[k];
        if (name_is(a->name, a->name_len, name)) {
            *missing = 0;
            return PyUnicode_DecodeUTF8(tag->values.data + a->value_start, a->value_len, "strict");
        }
    }
    *missing = 1;
    return NULL;
}

static int attr_equals(Tag *tag, const char *name, const char *value) {
    for (int k = 0; k < tag->n_attrs; k++) {
        Attr *a = &tag->attrs[k];
        if (name_is(a->name, a->name_len, name))
            return name_is((const unsigned char *)tag->values.data + a->value_start, a->value_len,
                           value);
    }
    return 0;
}

/* ---- text as the Python parser produces it ------------------------------------------------ */
static PyObject *decode(Buf *b) { return PyUnicode_DecodeUTF8(b->data, b->len, "strict"); }

/* Python's str.split() whitespace within ASCII. */
static inline int py_ascii_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
}

/* " ".join(text.split()) */
static PyObject *normalised(Buf *b) {
    if (b->non_ascii) {
        PyObject *text = decode(b);
        if (!text) return NULL;
        PyObject *parts = PyUnicode_Split(text, NULL, -1);
        Py_DECREF(text);
        if (!parts) return NULL;
        PyObject *joined = PyUnicode_Join(str_space, parts);
        Py_DECREF(parts);
        return joined;
    }
    /* In place: the buffer is rebuilt on every use. */
    Py_ssize_t w = 0, r = 0;
    while (r < b->len) {
        while (r < b->len && py_ascii_space((unsigned char)b->data[r])) r++;
        if (r >= b->len) break;
        if (w > 0) b->data[w++] = ' ';
        while (r < b->len && !py_ascii_space((unsigned char)b->data[r]))
            b->data[w++] = b->data[r++];
    }
    b->len = w;
    return PyUnicode_DecodeUTF8(b->data, w, "strict");
}

/* text.strip() */
static PyObject *stripped(Buf *b) {
    if (b->non_ascii) {
        PyObject *text = decode(b);
        if (!text) return NULL;
        PyObject *result = PyObject_CallMethodNoArgs(text, str_strip);
        Py_DECREF(text);
        return result;
    }
    Py_ssize_t start = 0, end = b->len;
    while (start < end && py_ascii_space((unsigned char)b->data[start])) start++;
    while (end > start && py_ascii_space((unsigned char)b->data[end - 1])) end--;
    return PyUnicode_DecodeUTF8(b->data + start, end - start, "strict");
}

/* Digits of an ASCII buffer after strip(): value, -1 for empty, -2 for anything else. */
static long long stripped_digits(Buf *b, int max_digits) {
    if (b->non_ascii) return -2;
    Py_ssize_t start = 0, end = b->len;
    while (start < end && py_ascii_space((unsigned char)b->data[start])) start++;
    while (end > start && py_ascii_space((unsigned char)b->data[end - 1])) end--;
    if (start == end) return -1;
    if (end - start > max_digits) return -2;
    long long value = 0;
    for (Py_ssize_t k = start; k < end; k++) {
        unsigned char c = (unsigned char)b->data[k];
        if (c < '0' || c > '9') return -2;
        value = value * 10 + (c - '0');
    }
    return value;
}

/* The first match of (1[0-9]{3}|20[0-9]{2}) in the text, or -1. */
static long medline_year(Buf *b) {
    const unsigned char *p = (const unsigned char *)b->data;
    for (Py_ssize_t k = 0; k + 4 <= b->len; k++) {
        int d2 = p[k + 2] >= '0' && p[k + 2] <= '9', d3 = p[k + 3] >= '0' && p[k + 3] <= '9';
        if (!(d2 && d3)) continue;
        if (p[k] == '1' && p[k + 1] >= '0' && p[k + 1] <= '9')
            return (p[k] - '0') * 1000 + (p[k + 1] - '0') * 100 + (p[k + 2] - '0') * 10 +
                   (p[k + 3] - '0');
        if (p[k] == '2' && p[k + 1] == '0')
            return 2000 + (p[k + 2] - '0') * 10 + (p[k + 3] - '0');
    }
    return -1;
}

/* ---- one record ------------------------------------------------------------------------- */
enum Ctx {
    C_SKIP, C_ROOT, C_MEDLINE, C_PMID, C_ARTICLE, C_TITLE, C_ABSTRACT, C_ABSTRACT_TEXT,
    C_LANGUAGE, C_JOURNAL, C_JOURNAL_TITLE, C_JOURNAL_ISSUE, C_PUBDATE, C_YEAR, C_MEDLINE_DATE,
    C_PUBTYPE_LIST, C_PUBTYPE, C_ELOCATION, C_MESH_LIST, C_MESH_HEADING, C_MESH_OTHER,
    C_DESCRIPTOR, C_QUALIFIER, C_KEYWORD_LIST, C_KEYWORD, C_DATE_REVISED, C_DATE_PART,
    C_PUBMED_DATA, C_ID_LIST, C_ARTICLE_ID, C_INSIDE,
};

/* Contexts whose text is captured; LEAF ones must not have child elements. */
static int captures(int ctx) {
    switch (ctx) {
    case C_PMID: case C_TITLE: case C_ABSTRACT_TEXT: case C_LANGUAGE: case C_JOURNAL_TITLE:
    case C_YEAR: case C_MEDLINE_DATE: case C_PUBTYPE: case C_ELOCATION: case C_DESCRIPTOR:
    case C_QUALIFIER: case C_KEYWORD: case C_DATE_PART: case C_ARTICLE_ID: case C_INSIDE:
        return 1;
    default:
        return 0;
    }
}
static int leaf_only(int ctx) {
    return captures(ctx) && ctx != C_TITLE && ctx != C_ABSTRACT_TEXT && ctx != C_JOURNAL_TITLE &&
           ctx != C_KEYWORD && ctx != C_INSIDE;
}

typedef struct {
    PyObject *ui, *name;
    int major;
    PyObject *qualifiers;  /* list of (ui, name, major) */
} Heading;

typedef struct {
    int seen_medline, seen_pmid, seen_article, seen_title, seen_abstract, seen_journal,
        seen_journal_title, seen_issue, seen_pubdate, seen_pubtypes, seen_mesh, seen_date_revised,
        seen_pubmed_data, seen_id_list;
    long long pmid;
    long version;
    PyObject *status, *title, *journal, *doi_eloc, *doi_ids;
    PyObject *sections;   /* list of (label, category, text) */
    PyObject *languages, *publication_types, *keywords;
    long year_from_year, year_from_medline;
    long long date_year, date_month, date_day;  /* -1 empty, -3 absent */
    Heading *headings;
    Py_ssize_t n_headings, cap_headings, current;
    /* per-element scratch */
    PyObject *label, *category, *ui;
    int major, is_doi, date_part;  /* date_part: 1 Year, 2 Month, 3 Day, 0 other */
} Record;

static void record_clear(Record *r) {
    Py_CLEAR(r->status); Py_CLEAR(r->title); Py_CLEAR(r->journal);
    Py_CLEAR(r->doi_eloc); Py_CLEAR(r->doi_ids); Py_CLEAR(r->sections); Py_CLEAR(r->languages);
    Py_CLEAR(r->publication_types); Py_CLEAR(r->keywords);
    Py_CLEAR(r->label); Py_CLEAR(r->category); Py_CLEAR(r->ui);
    for (Py_ssize_t k = 0; k < r->n_headings; k++) {
        Py_XDECREF(r->headings[k].ui); Py_XDECREF(r->headings[k].name);
        Py_XDECREF(r->headings[k].qualifiers);
    }
    PyMem_Free(r->headings);
    memset(r, 0, sizeof(*r));
}

static void record_init(Record *r) {
    memset(r, 0, sizeof(*r));
    r->version = 1;
    r->year_from_year = r->year_from_medline = -1;
    r->date_year = r->date_month = r->date_day = -3;
    r->current = -1;
}

static int list_append_new(PyObject **list, PyObject *item) {
    if (!item) return ERROR;
    if (!*list && !(*list = PyList_New(0))) { Py_DECREF(item); return ERROR; }
    int r = PyList_Append(*list, item);
    Py_DECREF(item);
    return r < 0 ? ERROR : OK;
}

/* The context of a child element, or -1 to fall back. */
static int child_context(int parent, Record *r, const unsigned char *n, Py_ssize_t len) {
#define IS(lit) name_is(n, len, lit)
#define ONCE(flag, ctx) ((r->flag)++ ? -1 : (ctx))
    switch (parent) {
    case C_ROOT:
        if (IS("MedlineCitation")) return ONCE(seen_medline, C_MEDLINE);
        if (IS("PubmedData")) return ONCE(seen_pubmed_data, C_PUBMED_DATA);
        return C_SKIP;
    case C_MEDLINE:
        if (IS("PMID")) return ONCE(seen_pmid, C_PMID);
        if (IS("Article")) return ONCE(seen_article, C_ARTICLE);
        if (IS("MeshHeadingList")) return ONCE(seen_mesh, C_MESH_LIST);
        if (IS("KeywordList")) return C_KEYWORD_LIST;
        if (IS("DateRevised")) return ONCE(seen_date_revised, C_DATE_REVISED);
        return C_SKIP;
    case C_ARTICLE:
        if (IS("ArticleTitle")) return ONCE(seen_title, C_TITLE);
        if (IS("Abstract")) return ONCE(seen_abstract, C_ABSTRACT);
        if (IS("Language")) return C_LANGUAGE;
        if (IS("Journal")) return ONCE(seen_journal, C_JOURNAL);
        if (IS("PublicationTypeList")) return ONCE(seen_pubtypes, C_PUBTYPE_LIST);
        if (IS("ELocationID")) return C_ELOCATION;
        return C_SKIP;
    case C_ABSTRACT:
        return IS("AbstractText") ? C_ABSTRACT_TEXT : C_SKIP;
    case C_JOURNAL:
        if (IS("Title")) return ONCE(seen_journal_title, C_JOURNAL_TITLE);
        if (IS("JournalIssue")) return ONCE(seen_issue, C_JOURNAL_ISSUE);
        return C_SKIP;
    case C_JOURNAL_ISSUE:
        return IS("PubDate") ? ONCE(seen_pubdate, C_PUBDATE) : C_SKIP;
    case C_PUBDATE:
        if (IS("Year")) return C_YEAR;
        if (IS("MedlineDate")) return C_MEDLINE_DATE;
        return C_SKIP;
    case C_PUBTYPE_LIST:
        return C_PUBTYPE;
    case C_MESH_LIST: case C_MESH_HEADING: case C_MESH_OTHER:
        /* the Python parser finds these at any depth; we take them only where NLM puts them */
        if (IS("DescriptorName")) return parent == C_MESH_HEADING ? C_DESCRIPTOR : -1;
        if (IS("QualifierName")) return parent == C_MESH_HEADING ? C_QUALIFIER : -1;
        return parent == C_MESH_LIST && IS("MeshHeading") ? C_MESH_HEADING : C_MESH_OTHER;
    case C_KEYWORD_LIST:
        return C_KEYWORD;
    case C_DATE_REVISED:
        return C_DATE_PART;
    case C_PUBMED_DATA:
        return IS("ArticleIdList") ? ONCE(seen_id_list, C_ID_LIST) : C_SKIP;
    case C_ID_LIST:
        return C_ARTICLE_ID;
    case C_SKIP:
        return C_SKIP;
    default:
        return leaf_only(parent) ? -1 : C_INSIDE;
    }
#undef IS
#undef ONCE
}

/* Attributes the element's end handler needs. */
static int on_start(int ctx, Record *r, Tag *tag) {
    int missing;
    switch (ctx) {
    case C_MEDLINE:
        r->status = attr_str(tag, "Status", &missing);
        return (!r->status && !missing) ? ERROR : OK;
    case C_PMID: {
        for (int k = 0; k < tag->n_attrs; k++) {
            Attr *a = &tag->attrs[k];
            if (!name_is(a->name, a->name_len, "Version")) continue;
            Buf value = {tag->values.data + a->value_start, a->value_len, a->value_len,
                         a->value_non_ascii};
            long long v = stripped_digits(&value, 9);
            if (v == -2) return FALLBACK;  /* let Python's isdigit() decide */
            r->version = v > 0 ? (long)v : 1;
        }
        return OK;
    }
    case C_ABSTRACT_TEXT:
        Py_CLEAR(r->label); Py_CLEAR(r->category);
        r->label = attr_str(tag, "Label", &missing);
        if (!r->label && !missing) return ERROR;
        r->category = attr_str(tag, "NlmCategory", &missing);
        return (!r->category && !missing) ? ERROR : OK;
    case C_ELOCATION:
        r->is_doi = attr_equals(tag, "EIdType", "doi");
        return OK;
    case C_ARTICLE_ID:
        r->is_doi = attr_equals(tag, "IdType", "doi");
        return OK;
    case C_DESCRIPTOR: case C_QUALIFIER:
        Py_CLEAR(r->ui);
        r->ui = attr_str(tag, "UI", &missing);
        if (!r->ui && !missing) return ERROR;
        r->major = attr_equals(tag, "MajorTopicYN", "Y");
        return OK;
    case C_DATE_PART:
        r->date_part = name_is(tag->name, tag->name_len, "Year") ? 1
                     : name_is(tag->name, tag->name_len, "Month") ? 2
                     : name_is(tag->name, tag->name_len, "Day") ? 3 : 0;
        return OK;
    default:
        return OK;
    }
}

static int add_heading(Record *r, PyObject *ui, PyObject *name, int major) {
    if (r->n_headings == r->cap_headings) {
        Py_ssize_t cap = r->cap_headings ? 2 * r->cap_headings : 16;
        Heading *grown = PyMem_Realloc(r->headings, cap * sizeof(Heading));
        if (!grown) { Py_DECREF(ui); Py_DECREF(name); PyErr_NoMemory(); return ERROR; }
        r->headings = grown;
        r->cap_headings = cap;
    }
    Heading *h = &r->headings[r->n_headings];
    h->ui = ui;
    h->name = name;
    h->major = major;
    h->qualifiers = NULL;
    r->current = r->n_headings++;
    return OK;
}

/* The end of an element: turn the captured text into the field it feeds. */
static int on_end(int ctx, Record *r, Buf *text) {
    switch (ctx) {
    case C_PMID: {
        long long v = stripped_digits(text, 18);
        if (v < 0) return FALLBACK;  /* no or odd PMID: the Python parser quarantines it */
        r->pmid = v;
        return OK;
    }
    case C_TITLE:
        if (!(r->title = normalised(text))) return ERROR;
        if (PyUnicode_GET_LENGTH(r->title) == 0) Py_CLEAR(r->title);
        return OK;
    case C_JOURNAL_TITLE:
        if (!(r->journal = normalised(text))) return ERROR;
        if (PyUnicode_GET_LENGTH(r->journal) == 0) Py_CLEAR(r->journal);
        return OK;
    case C_ABSTRACT_TEXT: {
        PyObject *body = normalised(text);
        if (!body) return ERROR;
        int has_label = r->label && PyUnicode_GET_LENGTH(r->label) > 0;
        if (PyUnicode_GET_LENGTH(body) == 0 && !has_label) { Py_DECREF(body); return OK; }
        PyObject *section = PyTuple_Pack(3, r->label ? r->label : Py_None,
                                         r->category ? r->category : Py_None, body);
        Py_DECREF(body);
        return list_append_new(&r->sections, section);
    }
    case C_LANGUAGE:
        if (text->len == 0) return OK;
        return list_append_new(&r->languages, stripped(text));
    case C_YEAR:
        if (r->year_from_year < 0 && text->len > 0) {
            long long v = stripped_digits(text, 9);
            if (v == -2) return FALLBACK;
            if (v >= 0) r->year_from_year = (long)v;
        }
        return OK;
    case C_MEDLINE_DATE:
        if (r->year_from_medline < 0 && text->len > 0) r->year_from_medline = medline_year(text);
        return OK;
    case C_PUBTYPE: {
        /* _plain_text: the text as is when it is one clean line, else flattened */
        if (text->len == 0) {
            Py_INCREF(str_empty);
            return list_append_new(&r->publication_types, str_empty);
        }
        PyObject *value;
        if (text->non_ascii) {
            PyObject *raw = decode(text);
            if (!raw) return ERROR;
            PyObject *clean = PyObject_CallMethodNoArgs(raw, str_strip);
            if (!clean) { Py_DECREF(raw); return ERROR; }
            int same = PyUnicode_Compare(raw, clean) == 0 && PyUnicode_FindChar(raw, '\n', 0,
                                         PyUnicode_GET_LENGTH(raw), 1) < 0;
            Py_DECREF(clean);
            Py_DECREF(raw);
            value = same ? decode(text) : normalised(text);
        } else {
            int clean = memchr(text->data, '\n', text->len) == NULL &&
                        !py_ascii_space((unsigned char)text->data[0]) &&
                        !py_ascii_space((unsigned char)text->data[text->len - 1]);
            value = clean ? decode(text) : normalised(text);
        }
        return list_append_new(&r->publication_types, value);
    }
    case C_ELOCATION:
        if (!r->doi_eloc && r->is_doi && text->len > 0 && !(r->doi_eloc = stripped(text)))
            return ERROR;
        return OK;
    case C_ARTICLE_ID:
        if (!r->doi_ids && r->is_doi && text->len > 0 && !(r->doi_ids = stripped(text)))
            return ERROR;
        return OK;
    case C_DESCRIPTOR: {
        PyObject *ui = r->ui;
        r->ui = NULL;
        if (!ui) { r->current = -1; return OK; }
        PyObject *name = text->len ? decode(text) : (Py_INCREF(Py_None), Py_None);
        if (!name) { Py_DECREF(ui); return ERROR; }
        return add_heading(r, ui, name, r->major);
    }
    case C_QUALIFIER: {
        PyObject *ui = r->ui;
        r->ui = NULL;
        if (r->current < 0) { Py_XDECREF(ui); return OK; }
        PyObject *name = text->len ? decode(text) : (Py_INCREF(Py_None), Py_None);
        if (!name) { Py_XDECREF(ui); return ERROR; }
        PyObject *qualifier = PyTuple_Pack(3, ui ? ui : Py_None, name,
                                           r->major ? Py_True : Py_False);
        Py_XDECREF(ui);
        Py_DECREF(name);
        Heading *h = &r->headings[r->current];
        if (r->major) h->major = 1;
        return list_append_new(&h->qualifiers, qualifier);
    }
    case C_KEYWORD: {
        PyObject *keyword = normalised(text);
        if (!keyword) return ERROR;
        if (PyUnicode_GET_LENGTH(keyword) == 0) { Py_DECREF(keyword); return OK; }
        return list_append_new(&r->keywords, keyword);
    }
    case C_DATE_PART: {
        if (r->date_part == 0) return OK;
        long long v = stripped_digits(text, 9);
        if (v == -2) return FALLBACK;  /* int() semantics beyond plain digits: Python decides */
        if (r->date_part == 1) r->date_year = v;
        else if (r->date_part == 2) r->date_month = v;
        else if (r->date_part == 3) r->date_day = v;
        return OK;
    }
    default:
        return OK;
    }
}

/* ---- committing a record to the columns ---------------------------------------------------- */
/* The lists of `columns`, in order: one entry gives both the index constant and the name that
 * COLUMNS exports (checked against pubmed_columns.SCANNER_COLUMNS). */
#define SCAN_COLUMNS(X)                                                                      \
    X(SEQ, "seq") X(PMID, "pmid") X(VERSION, "version") X(TITLE, "title")                    \
    X(ABSTRACT, "abstract") X(LANGUAGES, "languages") X(JOURNAL, "journal")                  \
    X(PUB_YEAR, "pub_year") X(PUBLICATION_TYPES, "publication_types")                        \
    X(KEYWORDS, "keywords") X(DOI, "doi") X(DATE_REVISED, "date_revised")                    \
    X(STATUS, "status") X(CONTENT_HASH, "content_hash")                                      \
    X(SECTION_COUNTS, "section_counts") X(SECTION_LABELS, "section_labels")                  \
    X(SECTION_CATEGORIES, "section_categories") X(SECTION_TEXTS, "section_texts")            \
    X(HEADING_COUNTS, "heading_counts") X(HEADING_UIS, "heading_uis")                        \
    X(HEADING_NAMES, "heading_names") X(HEADING_MAJORS, "heading_majors")                    \
    X(HEADING_SEQS, "heading_seqs") X(QUALIFIER_COUNTS, "qualifier_counts")                  \
    X(QUALIFIER_UIS, "qualifier_uis") X(QUALIFIER_NAMES, "qualifier_names")                  \
    X(QUALIFIER_MAJORS, "qualifier_majors")

#define COLUMN_INDEX(id, name) L_##id,
enum { SCAN_COLUMNS(COLUMN_INDEX) N_LISTS };
#undef COLUMN_INDEX

#define COLUMN_NAME(id, name) name,
static const char *const column_names[N_LISTS] = {SCAN_COLUMNS(COLUMN_NAME)};
#undef COLUMN_NAME

static int append(PyObject *list, PyObject *item) {  /* steals item */
    if (!item) return ERROR;
    int r = PyList_Append(list, item);
    Py_DECREF(item);
    return r < 0 ? ERROR : OK;
}

static int append_borrowed(PyObject *list, PyObject *item) {
    return PyList_Append(list, item ? item : Py_None) < 0 ? ERROR : OK;
}

/* A new reference to the list, or a new empty list. */
static PyObject *list_or_empty(PyObject *list) {
    return list ? Py_NewRef(list) : PyList_New(0);
}

static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static PyObject *date_revised(Record *r) {
    if (!r->seen_date_revised || r->date_year < 0) Py_RETURN_NONE;  /* absent or "" */
    long y = (long)r->date_year;
    long m = r->date_month > 0 ? (long)r->date_month : (r->date_month == 0 ? 0 : 1);
    long d = r->date_day > 0 ? (long)r->date_day : (r->date_day == 0 ? 0 : 1);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12) Py_RETURN_NONE;
    int max_day = days[m - 1] + (m == 2 && is_leap(y));
    if (d < 1 || d > max_day) Py_RETURN_NONE;
    return PyDate_FromDate((int)y, (int)m, (int)d);
}

/* "Label: text" lines joined by newlines, as pubmed_records._abstract_text. */
static PyObject *abstract_text(Record *r) {
    if (!r->sections) Py_RETURN_NONE;
    PyObject *lines = PyList_New(0);
    if (!lines) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(r->sections);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *section = PyList_GET_ITEM(r->sections, k);
        PyObject *label = PyTuple_GET_ITEM(section, 0), *category = PyTuple_GET_ITEM(section, 1);
        PyObject *body = PyTuple_GET_ITEM(section, 2);
        if (label == Py_None || PyUnicode_GET_LENGTH(label) == 0) {
            label = (category == Py_None || PyUnicode_Compare(category, str_unassigned) == 0)
                        ? NULL : category;
            if (label && PyUnicode_GET_LENGTH(label) == 0) label = NULL;
        }
        PyObject *line = label ? PyUnicode_FromFormat("%U: %U", label, body)
                               : (Py_INCREF(body), body);
        if (!line) { Py_DECREF(lines); return NULL; }
        if (PyUnicode_GET_LENGTH(line) == 0) { Py_DECREF(line); continue; }
        if (append(lines, line) < 0) { Py_DECREF(lines); return NULL; }
    }
    if (PyList_GET_SIZE(lines) == 0) { Py_DECREF(lines); Py_RETURN_NONE; }
    PyObject *joined = PyUnicode_Join(str_newline, lines);
    Py_DECREF(lines);
    return joined;
}

/* pubmed_columns.content_hash(title, abstract, heading UIs, heading major flags). */
static PyObject *content_hash(Record *r, PyObject *abstract) {
    PyObject *digest = NULL, *function = NULL;
    PyObject *uis = PyList_New(r->n_headings), *majors = PyList_New(r->n_headings);
    if (!uis || !majors) goto done;
    for (Py_ssize_t k = 0; k < r->n_headings; k++) {
        PyList_SET_ITEM(uis, k, Py_NewRef(r->headings[k].ui));
        PyList_SET_ITEM(majors, k, Py_NewRef(r->headings[k].major ? Py_True : Py_False));
    }
    function = PyObject_GetAttr(columns_module, str_content_hash);
    if (!function) goto done;
    PyObject *args[] = {r->title ? r->title : Py_None, abstract, uis, majors};
    digest = PyObject_Vectorcall(function, args, 4, NULL);
done:
    Py_XDECREF(function);
    Py_XDECREF(uis);
    Py_XDECREF(majors);
    return digest;
}

static int commit(Record *r, PyObject **lists, long long seq) {
    PyObject *abstract = abstract_text(r);
    if (!abstract) return ERROR;
    PyObject *hash = content_hash(r, abstract);
    if (!hash) { Py_DECREF(abstract); return ERROR; }
    PyObject *doi = (r->doi_ids && PyUnicode_GET_LENGTH(r->doi_ids) > 0) ? r->doi_ids : r->doi_eloc;
    long year = !r->seen_pubdate ? -1
              : r->year_from_year >= 0 ? r->year_from_year : r->year_from_medline;
    int failed =
        append(lists[L_SEQ], PyLong_FromLongLong(seq)) ||
        append(lists[L_PMID], PyLong_FromLongLong(r->pmid)) ||
        append(lists[L_VERSION], PyLong_FromLong(r->version)) ||
        append_borrowed(lists[L_TITLE], r->title) ||
        append(lists[L_ABSTRACT], abstract) ||
        append(lists[L_LANGUAGES], list_or_empty(r->languages)) ||
        append_borrowed(lists[L_JOURNAL], r->journal) ||
        append(lists[L_PUB_YEAR], year >= 0 ? PyLong_FromLong(year) : Py_NewRef(Py_None)) ||
        append(lists[L_PUBLICATION_TYPES], list_or_empty(r->publication_types)) ||
        append(lists[L_KEYWORDS], list_or_empty(r->keywords)) ||
        append_borrowed(lists[L_DOI], doi) ||
        append(lists[L_DATE_REVISED], date_revised(r)) ||
        append_borrowed(lists[L_STATUS], r->status) ||
        append(lists[L_CONTENT_HASH], hash);
    if (failed) return ERROR;
    Py_ssize_t n_sections = r->sections ? PyList_GET_SIZE(r->sections) : 0;
    if (append(lists[L_SECTION_COUNTS], PyLong_FromSsize_t(n_sections))) return ERROR;
    for (Py_ssize_t k = 0; k < n_sections; k++) {
        PyObject *section = PyList_GET_ITEM(r->sections, k);
        if (append_borrowed(lists[L_SECTION_LABELS], PyTuple_GET_ITEM(section, 0)) ||
            append_borrowed(lists[L_SECTION_CATEGORIES], PyTuple_GET_ITEM(section, 1)) ||
            append_borrowed(lists[L_SECTION_TEXTS], PyTuple_GET_ITEM(section, 2)))
            return ERROR;
    }
    if (append(lists[L_HEADING_COUNTS], PyLong_FromSsize_t(r->n_headings))) return ERROR;
    PyObject *seq_object = PyLong_FromLongLong(seq);
    if (!seq_object) return ERROR;
    for (Py_ssize_t k = 0; k < r->n_headings; k++) {
        Heading *h = &r->headings[k];
        Py_ssize_t n_qualifiers = h->qualifiers ? PyList_GET_SIZE(h->qualifiers) : 0;
        if (append_borrowed(lists[L_HEADING_UIS], h->ui) ||
            append_borrowed(lists[L_HEADING_NAMES], h->name) ||
            append_borrowed(lists[L_HEADING_MAJORS], h->major ? Py_True : Py_False) ||
            append_borrowed(lists[L_HEADING_SEQS], seq_object) ||
            append(lists[L_QUALIFIER_COUNTS], PyLong_FromSsize_t(n_qualifiers))) {
            Py_DECREF(seq_object);
            return ERROR;
        }
        for (Py_ssize_t q = 0; q < n_qualifiers; q++) {
            PyObject *qualifier = PyList_GET_ITEM(h->qualifiers, q);
            if (append_borrowed(lists[L_QUALIFIER_UIS], PyTuple_GET_ITEM(qualifier, 0)) ||
                append_borrowed(lists[L_QUALIFIER_NAMES], PyTuple_GET_ITEM(qualifier, 1)) ||
                append_borrowed(lists[L_QUALIFIER_MAJORS], PyTuple_GET_ITEM(qualifier, 2))) {
                Py_DECREF(seq_object);
                return ERROR;
            }
        }
    }
    Py_DECREF(seq_object);
    return OK;
}

/* Scan one PubmedArticle; cur->i is at its '<'. OK leaves cur after the record. */
static int scan_record(Cursor *cur, Record *r, Tag *tag, Buf *text) {
    int ctx_stack[MAX_DEPTH];
    const unsigned char *names[MAX_DEPTH];
    Py_ssize_t name_lens[MAX_DEPTH];
    int depth = 0, capture_depth = -1;
    int result;
    for (;;) {
        if (cur->i >= cur->n) return FALLBACK;
        if (cur->s[cur->i] != '<') {
            if (depth == 0) return FALLBACK;
            result = char_data(cur, capture_depth >= 0 ? text : NULL);
            if (result != OK) return result;
            continue;
        }
        cur->i++;
        if (cur->i >= cur->n) return FALLBACK;
        unsigned char c = cur->s[cur->i];
        if (c == '!' || c == '?') return FALLBACK;
        if (c == '/') {
            cur->i++;
            const unsigned char *name;
            Py_ssize_t len;
            if ((result = name_at(cur, &name, &len)) != OK) return result;
            skip_ws(cur);
            if (cur->i >= cur->n || cur->s[cur->i] != '>') return FALLBACK;
            cur->i++;
            if (depth == 0 || name_lens[depth - 1] != len || memcmp(names[depth - 1], name, len))
                return FALLBACK;
            depth--;
            int ctx = ctx_stack[depth];
            if (depth == capture_depth) capture_depth = -1;
            if (ctx != C_INSIDE && ctx != C_SKIP && (result = on_end(ctx, r, text)) != OK)
                return result;
            if (depth == 0)  /* unkeyed records are quarantined by the Python parser */
                return r->seen_medline && r->seen_pmid ? OK : FALLBACK;
            continue;
        }
        if ((result = start_tag(cur, tag)) != OK) return result;
        if (depth == MAX_DEPTH) return FALLBACK;
        int ctx;
        if (depth == 0) {
            if (!name_is(tag->name, tag->name_len, "PubmedArticle") || tag->self_closing ||
                tag->n_attrs)
                return FALLBACK;
            ctx = C_ROOT;
        } else {
            ctx = child_context(ctx_stack[depth - 1], r, tag->name, tag->name_len);
            if (ctx < 0) return FALLBACK;
            if ((result = on_start(ctx, r, tag)) != OK) return result;
        }
        int starts_capture = capture_depth < 0 && captures(ctx);
        if (starts_capture) buf_reset(text);
        if (tag->self_closing) {
            if (ctx != C_INSIDE && ctx != C_SKIP && (result = on_end(ctx, r, text)) != OK)
                return result;
            continue;
        }
        if (starts_capture) capture_depth = depth;
        ctx_stack[depth] = ctx;
        names[depth] = tag->name;
        name_lens[depth] = tag->name_len;
        depth++;
    }
}

/* ---- the chunk ---------------------------------------------------------------------------- */
static Py_ssize_t count_newlines(const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t count = 0;
    const unsigned char *end = p + n;
    while ((p = memchr(p, '\n', end - p)) != NULL) { count++; p++; }
    return count;
}

static Py_ssize_t find(const unsigned char *s, Py_ssize_t n, Py_ssize_t from, const char *needle) {
    Py_ssize_t len = (Py_ssize_t)strlen(needle);
    if (from >= n) return -1;
    const unsigned char *hit = memmem(s + from, n - from, needle, len);
    return hit ? hit - s : -1;
}

/* Where the top-level record starting at `start` ends, by its closing tag, or -1. */
static Py_ssize_t record_end(Cursor *cur, Py_ssize_t start) {
    static const char *const tags[] = {"PubmedArticle", "PubmedBookArticle", "DeleteCitation"};
    static const char *const closing[] = {"</PubmedArticle>", "</PubmedBookArticle>",
                                           "</DeleteCitation>"};
    const unsigned char *p = cur->s + start + 1;
    for (int k = 0; k < 3; k++) {
        Py_ssize_t len = (Py_ssize_t)strlen(tags[k]);
        if (start + 1 + len < cur->n && memcmp(p, tags[k], len) == 0 &&
            (is_ws(p[len]) || p[len] == '>' || p[len] == '/')) {
            Py_ssize_t at = find(cur->s, cur->n, start, closing[k]);
            return at < 0 ? -1 : at + (Py_ssize_t)strlen(closing[k]);
        }
    }
    return -1;
}

static PyObject *scan_chunk(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t line, position;
    long long seq_base;
    PyObject *columns, *fallback;
    if (!PyArg_ParseTuple(args, "y*nLnOO", &view, &line, &seq_base, &position, &columns, &fallback))
        return NULL;
    PyObject *result = NULL;
    PyObject *lists[N_LISTS];
    Tag tag = {0};
    Buf text = {0};
    Record record;
    record_init(&record);
    Py_ssize_t articles = 0;
    if (!PyTuple_Check(columns) || PyTuple_GET_SIZE(columns) != N_LISTS) {
        PyErr_Format(PyExc_TypeError, "columns must be a tuple of %d lists", N_LISTS);
        goto done;
    }
    for (int k = 0; k < N_LISTS; k++) {
        lists[k] = PyTuple_GET_ITEM(columns, k);
        if (!PyList_Check(lists[k])) {
            PyErr_SetString(PyExc_TypeError, "columns must be lists");
            goto done;
        }
    }
    Cursor cur = {view.buf, view.len, 0, line};
    for (;;) {
        skip_ws(&cur);
        if (cur.i >= cur.n) break;
        Py_ssize_t start = cur.i, start_line = cur.line;
        int r = FALLBACK;
        if (cur.s[cur.i] == '<') {
            r = scan_record(&cur, &record, &tag, &text);
            if (r == OK) {
                r = commit(&record, lists, seq_base + position);
                if (r == OK) { position++; articles++; }
            }
            record_clear(&record);
            record_init(&record);
            if (r == ERROR) goto done;
        }
        if (r == OK) continue;
        /* Not ours: lxml parses the record (or, when its end cannot be found, the rest). */
        PyErr_Clear();
        Py_ssize_t end = cur.s[start] == '<' ? record_end(&cur, start) : -1;
        PyObject *answer =
            PyObject_CallFunction(fallback, "nnnn", start, end, start_line, position);
        if (!answer) goto done;
        int stop;
        if (!PyArg_ParseTuple(answer, "np", &position, &stop)) { Py_DECREF(answer); goto done; }
        Py_DECREF(answer);
        if (stop || end < 0) break;
        cur.i = end;
        cur.line = start_line + count_newlines(cur.s + start, end - start);
    }
    result = Py_BuildValue("nn", articles, position);
done:
    record_clear(&record);
    PyMem_Free(tag.values.data);
    PyMem_Free(text.data);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_chunk", scan_chunk, METH_VARARGS,
     "scan_chunk(data, line, seq_base, position, columns, fallback) -> (articles, position)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pubmed_scan", NULL, -1, methods};

/* COLUMNS: the list names in the order scan_chunk appends to them. */
static PyObject *column_tuple(void) {
    PyObject *names = PyTuple_New(N_LISTS);
    if (!names) return NULL;
    for (int k = 0; k < N_LISTS; k++) {
        PyObject *name = PyUnicode_FromString(column_names[k]);
        if (!name) { Py_DECREF(names); return NULL; }
        PyTuple_SET_ITEM(names, k, name);
    }
    return names;
}

PyMODINIT_FUNC PyInit__pubmed_scan(void) {
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    columns_module = PyImport_ImportModule("mkailin_assets.ingest.pubmed_columns");
    if (!columns_module) return NULL;
    str_empty = PyUnicode_FromString("");
    str_newline = PyUnicode_FromString("\n");
    str_space = PyUnicode_FromString(" ");
    str_unassigned = PyUnicode_FromString("UNASSIGNED");
    str_content_hash = PyUnicode_InternFromString("content_hash");
    str_strip = PyUnicode_InternFromString("strip");
    if (!str_empty || !str_newline || !str_space || !str_unassigned || !str_content_hash ||
        !str_strip)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    PyObject *names = column_tuple();
    int failed = !names || PyModule_AddObjectRef(m, "COLUMNS", names) < 0;
    Py_XDECREF(names);
    if (failed) { Py_DECREF(m); return NULL; }
    return m;
}
