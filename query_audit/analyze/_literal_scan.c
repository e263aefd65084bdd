/* The fingerprint's literal scan in C: `split(sql)` is exactly
 *
 *     template, literals = fingerprint._split(sql)
 *     (template, "\x1f".join(literals))
 *
 * the statement with `?` for each literal, one space for each comment and its backquoted names kept,
 * and its literals. It gives what Python's `re` gives for `_TOKEN.sub` in fingerprint.py, backtracking
 * included, so each function below names the part of the pattern it stands for; tests compare the two
 * on logs, on fuzz and on edge cases. `_LITERAL_SPLIT.split`, which fingerprint.py uses on text with no
 * backquote or comment marker, gives the same answer there as `_TOKEN.sub`, so one scan serves both.
 *
 * Where backtracking could try a shorter run of digits, the next character is a digit, which fails the
 * `(?![\w$])` that every number ends with: only the longest runs can match, and the functions only try
 * what is left (with or without the fraction, with or without the exponent).
 *
 * Optional: without a compiler the package installs without it, and fingerprint.py uses the regexes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

/* Inlined into one copy of the scan per kind of str (see scan_any_kind), where every read is a plain load. */
#define HELPER static inline Py_ALWAYS_INLINE

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t length;
} Text;

HELPER Py_UCS4 char_at(const Text *text, Py_ssize_t index)
{
    return PyUnicode_READ(text->kind, text->data, index);
}

/* `\d` and `\w` of a str pattern, as sre defines them (Py_UNICODE_ISDECIMAL, Py_UNICODE_ISALNUM or `_`),
 * with the ASCII answer first because almost every character is ASCII. */
HELPER int is_digit(Py_UCS4 c)
{
    return c < 128 ? (c >= '0' && c <= '9') : Py_UNICODE_ISDECIMAL(c);
}

HELPER int is_word(Py_UCS4 c)
{
    if (c < 128)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    return Py_UNICODE_ISALNUM(c);
}

HELPER int is_hex_digit(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* `(?![\w$])` at `index`. */
HELPER int ends_word(const Text *text, Py_ssize_t index)
{
    if (index >= text->length)
        return 1;
    Py_UCS4 c = char_at(text, index);
    return !(is_word(c) || c == '$');
}

/* `[\w$.]`: the character before a digit or `.` that makes it part of a name (`t_2024`, `db2.t1`). */
HELPER int continues_name(Py_UCS4 c)
{
    return is_word(c) || c == '$' || c == '.';
}

/* `[\w$)\]?'"`]`: the character before a `+` or `-` that makes it an operator (`a-5`, `)-5`). */
HELPER int is_operand_end(Py_UCS4 c)
{
    return is_word(c) || c == '$' || c == ')' || c == ']' || c == '?' || c == '\'' || c == '"' || c == '`';
}

HELPER Py_ssize_t digits_end(const Text *text, Py_ssize_t index)
{
    while (index < text->length && is_digit(char_at(text, index)))
        index++;
    return index;
}

HELPER Py_ssize_t line_end(const Text *text, Py_ssize_t index)
{
    while (index < text->length && char_at(text, index) != '\n')
        index++;
    return index;
}

/* `(?:[eE][+-]?\d+)?(?![\w$])` at `index`: where the number ends, or -1. Leaving out an exponent
 * that has no digits does not help: its `e` fails the lookahead. */
HELPER Py_ssize_t exponent_end(const Text *text, Py_ssize_t index)
{
    if (index < text->length) {
        Py_UCS4 c = char_at(text, index);
        if (c == 'e' || c == 'E') {
            Py_ssize_t digits = index + 1;
            if (digits < text->length && (char_at(text, digits) == '+' || char_at(text, digits) == '-'))
                digits++;
            Py_ssize_t end = digits_end(text, digits);
            return end > digits && ends_word(text, end) ? end : -1;
        }
    }
    return ends_word(text, index) ? index : -1;
}

/* `\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w$])` at a digit. When the fraction's form fails (`12.5e`),
 * backtracking ends the number before its `.`, which passes the lookahead. */
HELPER Py_ssize_t decimal_end(const Text *text, Py_ssize_t index)
{
    Py_ssize_t integer_end = digits_end(text, index);
    if (integer_end < text->length && char_at(text, integer_end) == '.') {
        Py_ssize_t end = exponent_end(text, digits_end(text, integer_end + 1));
        return end >= 0 ? end : integer_end;
    }
    return exponent_end(text, integer_end);
}

/* `\.\d+(?:[eE][+-]?\d+)?(?![\w$])` at a `.`. */
HELPER Py_ssize_t fraction_end(const Text *text, Py_ssize_t index)
{
    Py_ssize_t end = digits_end(text, index + 1);
    return end > index + 1 ? exponent_end(text, end) : -1;
}

/* `(?:[xX][0-9a-fA-F]+|[bB][01]+)(?![\w$])` after a `0`. */
HELPER Py_ssize_t radix_end(const Text *text, Py_ssize_t index)
{
    if (index >= text->length)
        return -1;
    Py_UCS4 marker = char_at(text, index);
    Py_ssize_t end = index + 1;
    if (marker == 'x' || marker == 'X') {
        while (end < text->length && is_hex_digit(char_at(text, end)))
            end++;
    }
    else if (marker == 'b' || marker == 'B') {
        while (end < text->length && (char_at(text, end) == '0' || char_at(text, end) == '1'))
            end++;
    }
    else
        return -1;
    return end > index + 1 && ends_word(text, end) ? end : -1;
}

/* `_NUMBER` at `index`: hex, then binary, then decimal, as its alternation orders them. */
HELPER Py_ssize_t number_end(const Text *text, Py_ssize_t index)
{
    if (index >= text->length)
        return -1;
    Py_UCS4 c = char_at(text, index);
    if (c == '0') {
        Py_ssize_t end = radix_end(text, index + 1);
        if (end >= 0)
            return end;
    }
    if (is_digit(c))
        return decimal_end(text, index);
    if (c == '.')
        return fraction_end(text, index);
    return -1;
}

/* `'(?:[^'\\]|\\.|'')*'` (and its `"` twin) or, with no escapes, `` `(?:[^`]|``)*` ``. With no closing
 * quote, backtracking gives back the last doubled quote's second half and ends there; with no doubled
 * quote either, nothing matches. */
HELPER Py_ssize_t quoted_end(const Text *text, Py_ssize_t index, Py_UCS4 quote, int backslash_escapes)
{
    Py_ssize_t last_pair = -1;
    Py_ssize_t position = index + 1;
    while (position < text->length) {
        Py_UCS4 c = char_at(text, position);
        if (c == quote) {
            if (position + 1 < text->length && char_at(text, position + 1) == quote) {
                last_pair = position;
                position += 2;
                continue;
            }
            return position + 1;
        }
        if (c == '\\' && backslash_escapes) {
            if (position + 1 >= text->length)
                break;
            position += 2;
            continue;
        }
        position++;
    }
    return last_pair >= 0 ? last_pair + 1 : -1;
}

/* `_LITERAL_BODY` at `index`; its lookbehinds look at the character before the literal. */
HELPER Py_ssize_t literal_end(const Text *text, Py_ssize_t index, Py_UCS4 c)
{
    if (c == '\'' || c == '"')
        return quoted_end(text, index, c, 1);
    if (c == '+' || c == '-') {
        if (index > 0 && is_operand_end(char_at(text, index - 1)))
            return -1;
        return number_end(text, index + 1);
    }
    if (!(c == '.' || is_digit(c)) || (index > 0 && continues_name(char_at(text, index - 1))))
        return -1;
    return number_end(text, index);
}

/* `/\*(?!!).*?\*\/|--(?=[\x00-\x20\x7f]|\Z)[^\n]*|\#[^\n]*` at `index`: a `--` comment needs a space or a
 * control character after the dashes, as the server's lexer (query_audit/sql_text.py) says. */
HELPER int is_space_or_control(Py_UCS4 c)
{
    return c <= 0x20 || c == 0x7f;
}

HELPER Py_ssize_t comment_end(const Text *text, Py_ssize_t index, Py_UCS4 c)
{
    if (c == '#')
        return line_end(text, index + 1);
    if (index + 1 >= text->length || char_at(text, index + 1) != (c == '/' ? '*' : '-'))
        return -1;
    Py_ssize_t body = index + 2;
    if (c == '-')
        return body == text->length || is_space_or_control(char_at(text, body)) ? line_end(text, body) : -1;
    if (body < text->length && char_at(text, body) == '!')
        return -1;
    for (Py_ssize_t position = body; position + 1 < text->length; position++) {
        if (char_at(text, position) == '*' && char_at(text, position + 1) == '/')
            return position + 2;
    }
    return -1;
}

/* Characters of the input's kind, written to memory the caller owns. */
typedef struct {
    char *data;
    Py_ssize_t length;
} Buffer;

HELPER void put_text(Buffer *buffer, const Text *text, Py_ssize_t start, Py_ssize_t end)
{
    memcpy(buffer->data + buffer->length * text->kind, (const char *)text->data + start * text->kind,
           (size_t)(end - start) * text->kind);
    buffer->length += end - start;
}

HELPER void put_char(Buffer *buffer, const Text *text, Py_UCS4 c)
{
    PyUnicode_WRITE(text->kind, buffer->data, buffer->length, c);
    buffer->length++;
}

/* The ASCII characters that can start a backquoted name, a comment or a literal: the scan steps over
 * the others at once. */
static const unsigned char can_start_token[128] = {
    ['`'] = 1, ['/'] = 1, ['-'] = 1, ['#'] = 1, ['\''] = 1, ['"'] = 1, ['+'] = 1, ['.'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
};

/* `_TOKEN.sub` over the text: names stay, comments become a space, literals a `?` in the template and
 * themselves in `literals`. */
HELPER void scan(const Text *text, Buffer *template, Buffer *literals)
{
    Py_ssize_t copied = 0;  /* the text before it is in the template */
    Py_ssize_t index = 0;
    while (index < text->length) {
        Py_UCS4 c = char_at(text, index);
        if (c < 128 && !can_start_token[c]) {
            index++;
            continue;
        }
        Py_ssize_t end;
        if (c == '`') {
            end = quoted_end(text, index, '`', 0);
            if (end >= 0) {
                index = end;
                continue;
            }
        }
        else if (c == '/' || c == '-' || c == '#') {
            end = comment_end(text, index, c);
            if (end >= 0) {
                put_text(template, text, copied, index);
                put_char(template, text, ' ');
                index = copied = end;
                continue;
            }
        }
        end = literal_end(text, index, c);
        if (end >= 0) {
            put_text(template, text, copied, index);
            put_char(template, text, '?');
            if (literals->length > 0)  /* no literal is empty */
                put_char(literals, text, 0x1f);
            put_text(literals, text, index, end);
            index = copied = end;
            continue;
        }
        index++;
    }
    put_text(template, text, copied, text->length);
}

/* One copy of the scan per kind, each with its kind a constant. */
static void scan_any_kind(const Text *text, Buffer *template, Buffer *literals)
{
    if (text->kind == PyUnicode_1BYTE_KIND) {
        const Text one_byte = {PyUnicode_1BYTE_KIND, text->data, text->length};
        scan(&one_byte, template, literals);
    }
    else if (text->kind == PyUnicode_2BYTE_KIND) {
        const Text two_bytes = {PyUnicode_2BYTE_KIND, text->data, text->length};
        scan(&two_bytes, template, literals);
    }
    else {
        const Text four_bytes = {PyUnicode_4BYTE_KIND, text->data, text->length};
        scan(&four_bytes, template, literals);
    }
}

/* A str of the buffer: ASCII input gives ASCII output, copied as it is; any other goes through
 * PyUnicode_FromKindAndData, which picks the narrowest kind (as `re` does, so that `==` holds). */
static PyObject *buffer_to_str(const Buffer *buffer, int kind, int ascii)
{
    if (!ascii)
        return PyUnicode_FromKindAndData(kind, buffer->data, buffer->length);
    PyObject *result = PyUnicode_New(buffer->length, 127);
    if (result != NULL)
        memcpy(PyUnicode_DATA(result), buffer->data, buffer->length);
    return result;
}

/* Statements are short: their output fits on the stack. */
#define STACK_BUFFER_BYTES 6144

static PyObject *split(PyObject *Py_UNUSED(module), PyObject *sql)
{
    if (!PyUnicode_Check(sql)) {
        PyErr_Format(PyExc_TypeError, "split() argument must be str, not %.100s", Py_TYPE(sql)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(sql) < 0)
        return NULL;
#endif
    Text text = {PyUnicode_KIND(sql), PyUnicode_DATA(sql), PyUnicode_GET_LENGTH(sql)};
    /* The template is at most as long as the text (each literal or comment becomes one character), the
     * literals with their separators at most twice as long. */
    size_t template_bytes = (size_t)text.length * text.kind;
    size_t needed = 3 * template_bytes;
    char stack_memory[STACK_BUFFER_BYTES];
    char *memory = stack_memory;
    if (needed > sizeof(stack_memory)) {
        memory = PyMem_Malloc(needed);
        if (memory == NULL)
            return PyErr_NoMemory();
    }
    Buffer template = {memory, 0};
    Buffer literals = {memory + template_bytes, 0};

    scan_any_kind(&text, &template, &literals);

    int ascii = PyUnicode_IS_ASCII(sql);
    PyObject *template_str = buffer_to_str(&template, text.kind, ascii);
    PyObject *literals_str = template_str == NULL ? NULL : buffer_to_str(&literals, text.kind, ascii);
    if (memory != stack_memory)
        PyMem_Free(memory);
    if (literals_str == NULL) {
        Py_XDECREF(template_str);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, template_str, literals_str);
    Py_DECREF(template_str);
    Py_DECREF(literals_str);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * general_entry(line): a general log line as sources/general_log_file.py's `_ENTRY` reads it
 *
 *     (?:(\d{6}\s+\d{1,2}:\d\d:\d\d)|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?))?
 *     \t+ *(\d+) ([A-Z][A-Za-z_]*(?: [A-Za-z_]+)*)(?:\t|$)
 *
 * on a line without its line end: None when it does not match, else (classic time or None, ISO time or
 * None, int(thread), command, the rest of the line). Each part of the pattern can match in one way only
 * where the whole can (what follows each is a character its own class does not take), so one pass
 * without backtracking gives `re`'s answer; tests compare the two on logs and on fuzz.
 * --------------------------------------------------------------------------------------------- */

/* `\d{n}` at `index`: whether it is there. */
HELPER int digits_at(const Text *text, Py_ssize_t index, Py_ssize_t count)
{
    if (index + count > text->length)
        return 0;
    for (Py_ssize_t i = index; i < index + count; i++)
        if (!is_digit(char_at(text, i)))
            return 0;
    return 1;
}

HELPER int char_is(const Text *text, Py_ssize_t index, Py_UCS4 c)
{
    return index < text->length && char_at(text, index) == c;
}

/* `\d{6}\s+\d{1,2}:\d\d:\d\d`: where it ends, or -1. */
HELPER Py_ssize_t classic_end(const Text *text)
{
    if (!digits_at(text, 0, 6))
        return -1;
    Py_ssize_t index = 6;
    while (index < text->length && Py_UNICODE_ISSPACE(char_at(text, index)))
        index++;
    if (index == 6 || !digits_at(text, index, 1))
        return -1;
    index += digits_at(text, index + 1, 1) ? 2 : 1;
    if (!char_is(text, index, ':') || !digits_at(text, index + 1, 2) || !char_is(text, index + 3, ':')
        || !digits_at(text, index + 4, 2))
        return -1;
    return index + 6;
}

/* `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?`: where it ends, or -1. Its optional
 * parts are taken whenever they are there: what follows must be a tab, which none of them can end in. */
HELPER Py_ssize_t iso_end(const Text *text)
{
    /* `dddd-dd-ddTdd:dd:dd`, its separators first: a line of the other format fails on them at once. */
    if (text->length < 19 || char_at(text, 4) != '-' || char_at(text, 7) != '-' || char_at(text, 10) != 'T'
        || char_at(text, 13) != ':' || char_at(text, 16) != ':')
        return -1;
    if (!digits_at(text, 0, 4) || !digits_at(text, 5, 2) || !digits_at(text, 8, 2) || !digits_at(text, 11, 2)
        || !digits_at(text, 14, 2) || !digits_at(text, 17, 2))
        return -1;
    Py_ssize_t index = 19;
    if (char_is(text, index, '.') && digits_at(text, index + 1, 1))
        index = digits_end(text, index + 1);
    if (char_is(text, index, 'Z'))
        return index + 1;
    if (char_is(text, index, '+') || char_is(text, index, '-')) {
        Py_ssize_t zone = index + 1;
        if (digits_at(text, zone, 2)) {
            zone += 2;
            if (char_is(text, zone, ':'))
                zone++;
            if (digits_at(text, zone, 2))
                return zone + 2;
        }
    }
    return index;
}

HELPER int is_name_char(Py_UCS4 c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* The command names a log repeats on every line (`Query`, `Execute`...), each kept once, interned: no new
 * str per entry, and `command == "Query"` in Python is a pointer comparison. A log has a dozen at most;
 * past COMMAND_CACHE_SIZE names, the others are plain new strs. */
#define COMMAND_CACHE_SIZE 32
static PyObject *command_cache[COMMAND_CACHE_SIZE];

HELPER PyObject *command_name(PyObject *line, const Text *text, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t length = end - start;
    for (int slot = 0; slot < COMMAND_CACHE_SIZE; slot++) {
        PyObject *name = command_cache[slot];
        if (name == NULL) {  /* not seen yet: keep it (commands are ASCII, so its kind is 1) */
            name = PyUnicode_Substring(line, start, end);
            if (name == NULL)
                return NULL;
            PyUnicode_InternInPlace(&name);
            command_cache[slot] = name;
            Py_INCREF(name);
            return name;
        }
        if (PyUnicode_GET_LENGTH(name) != length)
            continue;
        const Py_UCS1 *cached = PyUnicode_1BYTE_DATA(name);
        Py_ssize_t i = 0;
        while (i < length && char_at(text, start + i) == cached[i])
            i++;
        if (i == length) {
            Py_INCREF(name);
            return name;
        }
    }
    return PyUnicode_Substring(line, start, end);
}

/* `int(digits) % shards`, digit by digit (any length, any Unicode decimal digit, as `\d` and int() read them). */
HELPER long shard_of_digits(const Text *text, Py_ssize_t start, Py_ssize_t end, long shards)
{
    long remainder = 0;
    for (Py_ssize_t i = start; i < end; i++)
        remainder = (remainder * 10 + Py_UNICODE_TODECIMAL(char_at(text, i))) % shards;
    return remainder;
}

/* int(line[start:end]) of a run of `\d`: read here when it is a few ASCII digits (always, in a log), else by int(). */
HELPER PyObject *thread_id(PyObject *line, const Text *text, Py_ssize_t start, Py_ssize_t end)
{
    long value = 0;
    Py_ssize_t i = start;
    while (i < end && end - start <= 18 && char_at(text, i) < 128)
        value = value * 10 + (long)(char_at(text, i++) - '0');
    if (i == end)
        return PyLong_FromLong(value);
    PyObject *digits = PyUnicode_Substring(line, start, end);
    PyObject *thread = digits == NULL ? NULL : PyLong_FromUnicodeObject(digits, 10);
    Py_XDECREF(digits);
    return thread;
}

/* An entry of another shard: no thread, command nor argument, only the classic time (which later entries
 * without one take). */
static PyObject *other_shard_entry(PyObject *classic)
{
    static PyObject *without_time = NULL;  /* the usual one, made once */
    if (classic != Py_None)
        return PyTuple_Pack(5, classic, Py_None, Py_None, Py_None, Py_None);
    if (without_time == NULL && (without_time = PyTuple_Pack(5, Py_None, Py_None, Py_None, Py_None, Py_None)) == NULL)
        return NULL;
    Py_INCREF(without_time);
    return without_time;
}

/* The match after the optional time at `index`: `\t+ *(\d+) (command)(?:\t|$)`, or NULL with no error. An ISO
 * time is `line[:index]` when `iso` (made here: another shard's entry goes without it). */
HELPER PyObject *entry_after_time(PyObject *line, const Text *text, Py_ssize_t index, PyObject *classic, int iso,
                                  long shard, long shards)
{
    Py_ssize_t time_end = index;
    if (!char_is(text, index, '\t'))
        Py_RETURN_NONE;
    while (char_is(text, index, '\t'))
        index++;
    while (char_is(text, index, ' '))
        index++;
    Py_ssize_t number = index;
    index = digits_end(text, index);
    if (index == number || !char_is(text, index, ' '))
        Py_RETURN_NONE;
    Py_ssize_t command = index + 1;
    if (command >= text->length || !(char_at(text, command) >= 'A' && char_at(text, command) <= 'Z'))
        Py_RETURN_NONE;
    Py_ssize_t end = command + 1;
    for (;;) {
        while (end < text->length && is_name_char(char_at(text, end)))
            end++;
        if (char_is(text, end, ' ') && end + 1 < text->length && is_name_char(char_at(text, end + 1)))
            end += 1;
        else
            break;
    }
    Py_ssize_t rest = end;
    if (char_is(text, end, '\t'))
        rest = end + 1;
    else if (end != text->length)
        Py_RETURN_NONE;
    if (shard >= 0 && shard_of_digits(text, number, index, shards) != shard)
        return other_shard_entry(classic);
    PyObject *iso_time = iso ? PyUnicode_Substring(line, 0, time_end) : Py_NewRef(Py_None);
    PyObject *thread = iso_time == NULL ? NULL : thread_id(line, text, number, index);
    PyObject *name = thread == NULL ? NULL : command_name(line, text, command, end);
    PyObject *argument = name == NULL ? NULL : PyUnicode_Substring(line, rest, text->length);
    PyObject *result = argument == NULL ? NULL : PyTuple_Pack(5, classic, iso_time, thread, name, argument);
    Py_XDECREF(iso_time);
    Py_XDECREF(thread);
    Py_XDECREF(name);
    Py_XDECREF(argument);
    return result;
}

/* general_entry's match on `text` (the line's characters, their kind a constant where this is inlined). */
HELPER PyObject *entry_of(PyObject *line, Text *text, long shard, long shards)
{
    while (text->length > 0 && (char_at(text, text->length - 1) == '\n' || char_at(text, text->length - 1) == '\r'))
        text->length--;
    if (text->length == 0 || char_at(text, 0) == '\t')
        return entry_after_time(line, text, 0, Py_None, 0, shard, shards);
    Py_ssize_t end = classic_end(text);
    if (end >= 0) {
        PyObject *classic = PyUnicode_Substring(line, 0, end);
        if (classic == NULL)
            return NULL;
        PyObject *result = entry_after_time(line, text, end, classic, 0, shard, shards);
        Py_DECREF(classic);
        return result;
    }
    end = iso_end(text);
    if (end < 0)
        Py_RETURN_NONE;
    return entry_after_time(line, text, end, Py_None, 1, shard, shards);
}

/* The arguments `shard, shards` (shard None: all, `*shard` left at -1): 0, or -1 with an error set. */
static int read_shard(PyObject *const *args, long *shard, long *shards)
{
    if (args[0] == Py_None)
        return 0;
    *shard = PyLong_AsLong(args[0]);
    *shards = PyLong_AsLong(args[1]);
    if (PyErr_Occurred())
        return -1;
    if (*shards < 1 || *shard < 0 || *shard >= *shards) {
        PyErr_SetString(PyExc_ValueError, "needs 0 <= shard < shards");
        return -1;
    }
    return 0;
}

/* general_entry(line[, shard, shards]): see the comment above; `line` may keep its line end (`\n`, `\r\n`:
 * the trailing `\r` and `\n` are left out, as `rstrip("\r\n")` would). With `shard` (0 <= shard < shards),
 * an entry whose thread id is of another shard (`thread % shards`) is `(classic, None, None, None, None)`. */
static PyObject *general_entry(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    long shard = -1, shards = 1;
    if (nargs != 1 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "general_entry() takes 1 or 3 arguments (line[, shard, shards])");
        return NULL;
    }
    PyObject *line = args[0];
    if (!PyUnicode_Check(line)) {
        PyErr_Format(PyExc_TypeError, "general_entry() argument must be str, not %.100s", Py_TYPE(line)->tp_name);
        return NULL;
    }
    if (nargs == 3 && read_shard(args + 1, &shard, &shards) < 0)
        return NULL;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(line) < 0)
        return NULL;
#endif
    /* One copy of the match per kind, each with its kind a constant (as scan_any_kind). */
    const void *data = PyUnicode_DATA(line);
    Py_ssize_t length = PyUnicode_GET_LENGTH(line);
    switch (PyUnicode_KIND(line)) {
    case PyUnicode_1BYTE_KIND: {
        Text one_byte = {PyUnicode_1BYTE_KIND, data, length};
        return entry_of(line, &one_byte, shard, shards);
    }
    case PyUnicode_2BYTE_KIND: {
        Text two_bytes = {PyUnicode_2BYTE_KIND, data, length};
        return entry_of(line, &two_bytes, shard, shards);
    }
    default: {
        Text four_bytes = {PyUnicode_4BYTE_KIND, data, length};
        return entry_of(line, &four_bytes, shard, shards);
    }
    }
}

/* ---------------------------------------------------------------------------------------------
 * slow_entry(text, position): a slow log entry as sources/slow_log_file.py's `_USUAL_ENTRY` reads it
 * at `position`, with what `_usual_entry` makes of the match (see there): None, or (end, classic time,
 * ISO time, user, thread id, database, query time, lock time, rows sent, rows examined, statement).
 *
 * Each part of the pattern can match in one way only (what follows each run is a character its class
 * does not take), and where an optional line or field fails, the part after it starts with other text
 * and fails too, so one pass without backtracking gives `re`'s answer; tests compare the two on logs
 * and on mutated entries.
 * --------------------------------------------------------------------------------------------- */

/* A part of the text a group took; `start` < 0 when the group took no part in the match. */
typedef struct {
    Py_ssize_t start, end;
} Span;

static const Span NO_SPAN = {-1, -1};

/* `literal` (ASCII) at `index`: where it ends, or -1. */
HELPER Py_ssize_t ascii_literal_end(const Text *text, Py_ssize_t index, const char *literal)
{
    for (; *literal; literal++, index++)
        if (index >= text->length || char_at(text, index) != (Py_UCS4)(unsigned char)*literal)
            return -1;
    return index;
}

/* ` +` then `literal`: where it ends, or -1. */
HELPER Py_ssize_t spaced_literal_end(const Text *text, Py_ssize_t index, const char *literal)
{
    if (!char_is(text, index, ' '))
        return -1;
    while (char_is(text, index, ' '))
        index++;
    return ascii_literal_end(text, index, literal);
}

/* ` +` then `\d+`, the digits a group: where they end, or -1. */
HELPER Py_ssize_t spaced_digits_end(const Text *text, Py_ssize_t index, Span *digits)
{
    if (!char_is(text, index, ' '))
        return -1;
    while (char_is(text, index, ' '))
        index++;
    Py_ssize_t end = digits_end(text, index);
    if (end == index)
        return -1;
    *digits = (Span){index, end};
    return end;
}

HELPER int is_space(const Text *text, Py_ssize_t index)
{
    return Py_UNICODE_ISSPACE(char_at(text, index));
}

/* `(?!\S)` at `index`. */
HELPER int ends_nonspace(const Text *text, Py_ssize_t index)
{
    return index >= text->length || is_space(text, index);
}

/* `[^\r\n]*` from `index`: where the line's text ends. */
HELPER Py_ssize_t line_text_end(const Text *text, Py_ssize_t index)
{
    while (index < text->length) {
        Py_UCS4 c = char_at(text, index);
        if (c == '\n' || c == '\r')
            break;
        index++;
    }
    return index;
}

/* ` *\n`: where the next line starts, or -1. */
HELPER Py_ssize_t line_break_end(const Text *text, Py_ssize_t index)
{
    while (char_is(text, index, ' '))
        index++;
    return char_is(text, index, '\n') ? index + 1 : -1;
}

/* A run of characters none of which is in `stop` (ASCII), or one of `\s` too when `stop_at_space`. */
HELPER Py_ssize_t run_end(const Text *text, Py_ssize_t index, const char *stop, int stop_at_space)
{
    uint64_t stops[2] = {0, 0};  /* a bit for each ASCII character in `stop` */
    for (const char *c = stop; *c; c++)
        stops[(unsigned char)*c >> 6] |= (uint64_t)1 << (*c & 63);
    while (index < text->length) {
        Py_UCS4 c = char_at(text, index);
        if ((c < 128 && (stops[c >> 6] >> (c & 63)) & 1) || (stop_at_space && Py_UNICODE_ISSPACE(c)))
            break;
        index++;
    }
    return index;
}

/* `(?:# Time: (?:(\d{6}[ \t]+\d{1,2}:\d\d:\d\d)|(\d{4}-\S*))[^\r\n]*\n)?` */
HELPER Py_ssize_t time_line_end(const Text *text, Py_ssize_t index, Span *classic, Span *iso)
{
    Py_ssize_t start = ascii_literal_end(text, index, "# Time: ");
    if (start < 0)
        return index;
    Py_ssize_t end = -1;
    if (digits_at(text, start, 6) && (char_is(text, start + 6, ' ') || char_is(text, start + 6, '\t'))) {
        Py_ssize_t clock = start + 6;
        while (char_is(text, clock, ' ') || char_is(text, clock, '\t'))
            clock++;
        if (digits_at(text, clock, 1)) {
            clock += digits_at(text, clock + 1, 1) ? 2 : 1;
            if (char_is(text, clock, ':') && digits_at(text, clock + 1, 2) && char_is(text, clock + 3, ':')
                && digits_at(text, clock + 4, 2))
                end = clock + 6;
        }
    }
    Span *stamp = classic;
    if (end < 0 && digits_at(text, start, 4) && char_is(text, start + 4, '-')) {
        end = start + 5;
        while (end < text->length && !is_space(text, end))
            end++;
        stamp = iso;
    }
    if (end < 0)
        return index;
    Py_ssize_t line_end = line_text_end(text, end);
    if (!char_is(text, line_end, '\n'))
        return index;
    *stamp = (Span){start, end};
    return line_end + 1;
}

/* `# User@Host: ([^\[\s]*)\[[^\]@\n]*\] @ [^\[\]:@\n]*\[[^\]:\n]*\](?: +Id: +(\d+))? *\n` */
HELPER Py_ssize_t user_host_line_end(const Text *text, Py_ssize_t index, Span *user, Span *connection)
{
    Py_ssize_t start = ascii_literal_end(text, index, "# User@Host: ");
    if (start < 0)
        return -1;
    Py_ssize_t end = run_end(text, start, "[", 1);
    if (!char_is(text, end, '['))
        return -1;
    *user = (Span){start, end};
    end = run_end(text, end + 1, "]@\n", 0);
    if (!char_is(text, end, ']') || (end = ascii_literal_end(text, end + 1, " @ ")) < 0)
        return -1;
    end = run_end(text, end, "[]:@\n", 0);
    if (!char_is(text, end, '['))
        return -1;
    end = run_end(text, end + 1, "]:\n", 0);
    if (!char_is(text, end, ']'))
        return -1;
    end++;
    Py_ssize_t id = spaced_literal_end(text, end, "Id:");
    if (id >= 0 && (id = spaced_digits_end(text, id, connection)) >= 0 && (id = line_break_end(text, id)) >= 0)
        return id;
    *connection = NO_SPAN;
    return line_break_end(text, end);
}

/* `(?:# Thread_id: +(\d+) +Schema: +(?:(?!\w+:)(\S+) +)?QC_hit: +\w+ *\n)?` */
HELPER Py_ssize_t thread_line_end(const Text *text, Py_ssize_t index, Span *thread, Span *schema)
{
    Py_ssize_t end = ascii_literal_end(text, index, "# Thread_id:");
    if (end < 0 || (end = spaced_digits_end(text, end, thread)) < 0
        || (end = spaced_literal_end(text, end, "Schema:")) < 0 || !char_is(text, end, ' ')) {
        *thread = NO_SPAN;
        return index;
    }
    while (char_is(text, end, ' '))
        end++;
    Py_ssize_t word = end;
    while (word < text->length && is_word(char_at(text, word)))
        word++;
    if (!(word > end && char_is(text, word, ':'))) {  /* `(?!\w+:)(\S+) +` */
        Py_ssize_t name = end;
        while (name < text->length && !is_space(text, name))
            name++;
        if (name > end && char_is(text, name, ' ')) {
            *schema = (Span){end, name};
            while (char_is(text, name, ' '))
                name++;
            end = name;
        }
    }
    end = ascii_literal_end(text, end, "QC_hit:");
    if (end >= 0 && char_is(text, end, ' ')) {
        while (char_is(text, end, ' '))
            end++;
        Py_ssize_t value = end;
        while (end < text->length && is_word(char_at(text, end)))
            end++;
        if (end > value && (end = line_break_end(text, end)) >= 0)
            return end;
    }
    *thread = *schema = NO_SPAN;
    return index;
}

/* `(\d+(?:\.\d+)?)(?!\S)`, or `(\d+)(?!\S)` without `fraction`: where the number ends, or -1. */
HELPER Py_ssize_t figure_end(const Text *text, Py_ssize_t index, int fraction)
{
    Py_ssize_t end = digits_end(text, index);
    if (end == index)
        return -1;
    if (fraction && char_is(text, end, '.') && digits_at(text, end + 1, 1))
        end = digits_end(text, end + 1);
    return ends_nonspace(text, end) ? end : -1;
}

/* `"Schema:"` at `index` after a character that is not `\w`: the lookahead in _USUAL_ENTRY's
 * `(?![^\r\n]*(?<!\w)Schema:)`, searched from `index` to the line's end. */
HELPER int has_schema_field(const Text *text, Py_ssize_t index, Py_ssize_t line_end)
{
    for (Py_ssize_t at = index; at + 7 <= line_end; at++)
        if (char_at(text, at) == 'S' && ascii_literal_end(text, at, "Schema:") >= 0
            && !(at > 0 && is_word(char_at(text, at - 1))))
            return 1;
    return 0;
}

/* `# Query_time: +(float) +Lock_time: +(float) +Rows_sent: +(int) +Rows_examined: +(int)`, then
 * log_slow_extra's `(?: +Thread_id: +(\d+)(?!\S)(?![^\r\n]*(?<!\w)Schema:)[^\r\n]*)?`, then ` *\n`.
 * `figures` are the four numbers' spans. */
HELPER Py_ssize_t query_time_line_end(const Text *text, Py_ssize_t index, Span figures[4], Span *thread)
{
    static const char *const labels[4] = {"# Query_time:", "Lock_time:", "Rows_sent:", "Rows_examined:"};
    Py_ssize_t end = index;
    for (int i = 0; i < 4; i++) {
        end = i == 0 ? ascii_literal_end(text, end, labels[0]) : spaced_literal_end(text, end, labels[i]);
        if (end < 0 || !char_is(text, end, ' '))
            return -1;
        while (char_is(text, end, ' '))
            end++;
        Py_ssize_t start = end;
        if ((end = figure_end(text, end, i < 2)) < 0)
            return -1;
        figures[i] = (Span){start, end};
    }
    Py_ssize_t extra = spaced_literal_end(text, end, "Thread_id:");
    if (extra >= 0 && (extra = spaced_digits_end(text, extra, thread)) >= 0 && ends_nonspace(text, extra)) {
        Py_ssize_t line_end = line_text_end(text, extra);
        if (!has_schema_field(text, extra, line_end) && char_is(text, line_end, '\n'))
            return line_end + 1;
    }
    *thread = NO_SPAN;
    return line_break_end(text, end);
}

/* `(?:# Rows_affected: +\d+ +Bytes_sent: +\d+ *\n)?` */
HELPER Py_ssize_t rows_affected_line_end(const Text *text, Py_ssize_t index)
{
    Span digits;
    Py_ssize_t end = ascii_literal_end(text, index, "# Rows_affected:");
    if (end < 0 || (end = spaced_digits_end(text, end, &digits)) < 0
        || (end = spaced_literal_end(text, end, "Bytes_sent:")) < 0 || (end = spaced_digits_end(text, end, &digits)) < 0
        || (end = line_break_end(text, end)) < 0)
        return index;
    return end;
}

/* `(?:use ([^`;\r\n]+);\n)?` */
HELPER Py_ssize_t use_line_end(const Text *text, Py_ssize_t index, Span *database)
{
    Py_ssize_t start = ascii_literal_end(text, index, "use ");
    if (start < 0)
        return index;
    Py_ssize_t end = run_end(text, start, "`;\r\n", 0);
    if (end == start || ascii_literal_end(text, end, ";\n") < 0)
        return index;
    *database = (Span){start, end};
    return end + 2;
}

/* `SET timestamp=\d+;\n((?!#|T)[^\r\n]*)(?<!started with:)\n(?=# Time:|# User@Host:|\Z)`: the
 * statement's line, and where the entry ends, or -1. */
HELPER Py_ssize_t statement_end(const Text *text, Py_ssize_t index, Span *statement)
{
    Py_ssize_t end = ascii_literal_end(text, index, "SET timestamp=");
    if (end < 0)
        return -1;
    Py_ssize_t start = digits_end(text, end);
    if (start == end || (start = ascii_literal_end(text, start, ";\n")) < 0)
        return -1;
    if (char_is(text, start, '#') || char_is(text, start, 'T'))
        return -1;
    end = line_text_end(text, start);
    if (!char_is(text, end, '\n') || (end >= 13 && ascii_literal_end(text, end - 13, "started with:") >= 0))
        return -1;
    *statement = (Span){start, end};
    end++;
    if (end == text->length || ascii_literal_end(text, end, "# Time:") >= 0 || ascii_literal_end(text, end, "# User@Host:") >= 0)
        return end;
    return -1;
}

/* The spans of `_USUAL_ENTRY`'s groups, in its order. */
enum { CLASSIC, ISO, USER, CONNECTION, THREAD, SCHEMA, QUERY_TIME, LOCK_TIME, ROWS_SENT, ROWS_EXAMINED, EXTRA_THREAD,
       USED, STATEMENT, GROUPS };

/* `_USUAL_ENTRY.match(text, index)`: where the entry ends and its groups, or -1. */
HELPER Py_ssize_t usual_entry_end(const Text *text, Py_ssize_t index, Span groups[GROUPS])
{
    for (int i = 0; i < GROUPS; i++)
        groups[i] = NO_SPAN;
    Py_ssize_t end = time_line_end(text, index, &groups[CLASSIC], &groups[ISO]);
    if ((end = user_host_line_end(text, end, &groups[USER], &groups[CONNECTION])) < 0)
        return -1;
    end = thread_line_end(text, end, &groups[THREAD], &groups[SCHEMA]);
    if ((end = query_time_line_end(text, end, &groups[QUERY_TIME], &groups[EXTRA_THREAD])) < 0)
        return -1;
    end = rows_affected_line_end(text, end);
    end = use_line_end(text, end, &groups[USED]);
    return statement_end(text, end, &groups[STATEMENT]);
}

/* One copy of the match per kind, each with its kind a constant. */
static Py_ssize_t usual_entry_end_any_kind(const Text *text, Py_ssize_t index, Span groups[GROUPS])
{
    if (text->kind == PyUnicode_1BYTE_KIND) {
        const Text one_byte = {PyUnicode_1BYTE_KIND, text->data, text->length};
        return usual_entry_end(&one_byte, index, groups);
    }
    if (text->kind == PyUnicode_2BYTE_KIND) {
        const Text two_bytes = {PyUnicode_2BYTE_KIND, text->data, text->length};
        return usual_entry_end(&two_bytes, index, groups);
    }
    const Text four_bytes = {PyUnicode_4BYTE_KIND, text->data, text->length};
    return usual_entry_end(&four_bytes, index, groups);
}

/* The group's text, or None (a new reference either way). */
static PyObject *group_str(PyObject *str, Span span)
{
    if (span.start < 0)
        Py_RETURN_NONE;
    return PyUnicode_Substring(str, span.start, span.end);
}

/* The group's characters as a C string when they are all ASCII and fit `buffer`, else NULL. */
static const char *ascii_group(const Text *text, Span span, char *buffer, size_t size)
{
    if ((size_t)(span.end - span.start) >= size)
        return NULL;
    for (Py_ssize_t i = span.start; i < span.end; i++) {
        Py_UCS4 c = char_at(text, i);
        if (c >= 128)
            return NULL;
        buffer[i - span.start] = (char)c;
    }
    buffer[span.end - span.start] = '\0';
    return buffer;
}

/* `int(...)` of a group of digits; NULL with no error set for what `int` refuses (over 4,300 digits). */
static PyObject *group_int(PyObject *str, const Text *text, Span span)
{
    if (span.end - span.start <= 18) {  /* no overflow */
        long long value = 0;
        Py_ssize_t i = span.start;
        for (; i < span.end; i++) {
            Py_UCS4 c = char_at(text, i);
            if (c < '0' || c > '9')
                break;
            value = value * 10 + (c - '0');
        }
        if (i == span.end)
            return PyLong_FromLongLong(value);
    }
    PyObject *digits = PyUnicode_Substring(str, span.start, span.end);
    if (digits == NULL)
        return NULL;
    PyObject *number = PyLong_FromUnicodeObject(digits, 10);
    Py_DECREF(digits);
    if (number == NULL && PyErr_ExceptionMatches(PyExc_ValueError))
        PyErr_Clear();
    return number;
}

/* `float` of ASCII `digits[.digits]` with at most 15 digits in all: the integer they make (exact)
 * divided by a power of ten up to 1e15 (exact), one correctly rounded division, as `float` rounds.
 * Not where doubles are computed in wider registers (x87), which would round twice. */
HELPER int small_decimal(const char *ascii, double *value)
{
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
    return 0;
#endif
    static const double powers[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    int64_t mantissa = 0;
    int digits = 0, fraction = -1;
    for (const char *c = ascii; *c; c++) {
        if (*c == '.') {
            fraction = 0;
            continue;
        }
        if (*c < '0' || *c > '9' || ++digits > 15)
            return 0;
        mantissa = mantissa * 10 + (*c - '0');
        if (fraction >= 0)
            fraction++;
    }
    *value = (double)mantissa / powers[fraction > 0 ? fraction : 0];
    return 1;
}

/* `float(...)` of a group; NULL with no error set when it is not finite (300 digits and more). */
static PyObject *group_float(PyObject *str, const Text *text, Span span)
{
    char buffer[64];
    const char *ascii = ascii_group(text, span, buffer, sizeof(buffer));
    double value;
    if (ascii != NULL && small_decimal(ascii, &value))
        return PyFloat_FromDouble(value);
    if (ascii != NULL) {  /* what `float` does with an ASCII str once it has made it bytes */
        value = PyOS_string_to_double(ascii, NULL, NULL);
        if (value == -1.0 && PyErr_Occurred())
            return NULL;
    }
    else {
        PyObject *digits = PyUnicode_Substring(str, span.start, span.end);
        PyObject *number = digits == NULL ? NULL : PyFloat_FromString(digits);
        Py_XDECREF(digits);
        if (number == NULL)
            return NULL;
        value = PyFloat_AS_DOUBLE(number);
        Py_DECREF(number);
    }
    return isfinite(value) ? PyFloat_FromDouble(value) : NULL;
}

/* The statement without its trailing blanks and `;`: `sql.rstrip()`, then without a `;` and rstrip again. */
static Span statement_span(const Text *text, Span span)
{
    while (span.end > span.start && is_space(text, span.end - 1))
        span.end--;
    if (span.end > span.start && char_at(text, span.end - 1) == ';') {
        span.end--;
        while (span.end > span.start && is_space(text, span.end - 1))
            span.end--;
    }
    return span;
}

/* Figures this long or shorter are ones `float` and `int` always take (finite, under int's digit limit). */
#define SHORT_FIGURE 300

/* The thread id's span of a matched entry: Thread_id, else log_slow_extra's, else Id (as `_usual_entry`). */
static Span entry_thread(const Span groups[GROUPS])
{
    return groups[THREAD].start >= 0 ? groups[THREAD]
        : groups[EXTRA_THREAD].start >= 0 ? groups[EXTRA_THREAD] : groups[CONNECTION];
}

/* The shard of a matched entry: `thread % shards`, 0 without a thread. */
static long entry_shard(const Text *text, const Span groups[GROUPS], long shards)
{
    Span thread = entry_thread(groups);
    return thread.start < 0 ? 0 : shard_of_digits(text, thread.start, thread.end, shards);
}

/* Whether a matched entry's thread id and figures are short enough that `float` and `int` surely take them. */
static int short_figures(const Span groups[GROUPS])
{
    Span thread = entry_thread(groups);
    if (thread.end - thread.start > SHORT_FIGURE)
        return 0;
    for (int i = QUERY_TIME; i <= ROWS_EXAMINED; i++)
        if (groups[i].end - groups[i].start > SHORT_FIGURE)
            return 0;
    return 1;
}

/* The tuple `_usual_entry` gives for a match: NULL, with an error set or not (None then). */
static PyObject *usual_entry_fields(PyObject *str, const Text *text, Py_ssize_t end, const Span groups[GROUPS],
                                    Py_ssize_t skipped)
{
    Span thread = entry_thread(groups);
    Span user = groups[USER].end > groups[USER].start ? groups[USER] : NO_SPAN;
    Span database = groups[USED].start >= 0 ? groups[USED] : groups[SCHEMA];
    PyObject *fields[12] = {NULL};
    int count = 0;
    fields[count++] = PyLong_FromSsize_t(end);
    fields[count++] = group_str(str, groups[CLASSIC]);
    fields[count++] = group_str(str, groups[ISO]);
    fields[count++] = group_str(str, user);
    if (thread.start >= 0)
        fields[count++] = group_int(str, text, thread);
    else
        fields[count++] = Py_NewRef(Py_None);
    fields[count++] = group_str(str, database);
    fields[count++] = group_float(str, text, groups[QUERY_TIME]);
    fields[count++] = group_float(str, text, groups[LOCK_TIME]);
    fields[count++] = group_int(str, text, groups[ROWS_SENT]);
    fields[count++] = group_int(str, text, groups[ROWS_EXAMINED]);
    fields[count++] = group_str(str, statement_span(text, groups[STATEMENT]));
    fields[count++] = PyLong_FromSsize_t(skipped);
    PyObject *result = NULL;
    int complete = 1;
    for (int i = 0; i < count; i++)
        complete = complete && fields[i] != NULL;
    if (complete) {
        result = PyTuple_New(count);
        for (int i = 0; result != NULL && i < count; i++)
            PyTuple_SET_ITEM(result, i, Py_NewRef(fields[i]));
    }
    for (int i = 0; i < count; i++)
        Py_XDECREF(fields[i]);
    return result;
}

/* Only entries of other shards, `skipped` of them, up to `end`: (end, classic, iso, None, ..., None, skipped). */
static PyObject *other_shard_slow_entries(PyObject *str, Py_ssize_t end, Span classic, Span iso, Py_ssize_t skipped)
{
    PyObject *fields[4] = {PyLong_FromSsize_t(end), group_str(str, classic), group_str(str, iso),
                           PyLong_FromSsize_t(skipped)};
    PyObject *result = NULL;
    if (fields[0] != NULL && fields[1] != NULL && fields[2] != NULL && fields[3] != NULL
        && (result = PyTuple_New(12)) != NULL) {
        for (int i = 0; i < 12; i++)
            PyTuple_SET_ITEM(result, i, Py_NewRef(i < 3 ? fields[i] : i == 11 ? fields[3] : Py_None));
    }
    for (int i = 0; i < 4; i++)
        Py_XDECREF(fields[i]);
    return result;
}

/* slow_entry(text, position[, shard, shards]): `_usual_entry`. With `shard` (0 <= shard < shards), the entries
 * of other shards are skipped, counted in the last field; see there. */
static PyObject *slow_entry(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if ((nargs != 2 && nargs != 4) || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "slow_entry() takes a str and an int (text, position[, shard, shards])");
        return NULL;
    }
    long shard = -1, shards = 1;
    if (nargs == 4 && read_shard(args + 2, &shard, &shards) < 0)
        return NULL;
    PyObject *str = args[0];
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(str) < 0)
        return NULL;
#endif
    Py_ssize_t position = PyLong_AsSsize_t(args[1]);
    if (position == -1 && PyErr_Occurred())
        return NULL;
    Text text = {PyUnicode_KIND(str), PyUnicode_DATA(str), PyUnicode_GET_LENGTH(str)};
    Span groups[GROUPS], classic = NO_SPAN, iso = NO_SPAN;
    Py_ssize_t skipped = 0;
    for (;;) {
        Py_ssize_t end = position < 0 || position > text.length ? -1 : usual_entry_end_any_kind(&text, position, groups);
        if (end < 0)
            break;
        if (groups[CLASSIC].start >= 0 || groups[ISO].start >= 0) {  /* the latest time */
            classic = groups[CLASSIC];
            iso = groups[ISO];
        }
        int of_this_shard = shard < 0 || entry_shard(&text, groups, shards) == shard;
        if (of_this_shard || !short_figures(groups)) {
            groups[CLASSIC] = classic;
            groups[ISO] = iso;
            PyObject *result = usual_entry_fields(str, &text, end, groups, skipped);
            if (result == NULL && !PyErr_Occurred())
                break;  /* a figure `float` or `int` refuses: the entry is read line by line */
            if (result == NULL || of_this_shard)
                return result;
            Py_DECREF(result);  /* another shard's, which its figures did not stop */
        }
        skipped++;
        position = end;
    }
    if (skipped == 0)
        Py_RETURN_NONE;
    return other_shard_slow_entries(str, position, classic, iso, skipped);
}

static PyMethodDef methods[] = {
    {"split", split, METH_O,
     "split(sql) -> (template, literals): fingerprint._split's template, and its literals joined by \"\\x1f\"."},
    {"general_entry", (PyCFunction)(void (*)(void))general_entry, METH_FASTCALL,
     "general_entry(line[, shard, shards]) -> (classic, iso, thread, command, argument) or None:\n"
     "general_log_file._entry_fields, in C."},
    {"slow_entry", (PyCFunction)(void (*)(void))slow_entry, METH_FASTCALL,
     "slow_entry(text, position[, shard, shards]) -> the entry's fields or None: slow_log_file._usual_entry."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef literal_scan_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "query_audit.analyze._literal_scan",
    .m_doc = "The fingerprint's literal scan, the general log's line match and the slow log's entry read in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__literal_scan(void)
{
    return PyModuleDef_Init(&literal_scan_module);
}
