/* pg_trigger.c - REST trigger bodies: strict JSON parse, then every rule of spec 9.3 / 9.4 / 6.3.
 * Thread: any (pure). Callers: rest_events.c; tests/unit/test_trigger.c.
 *
 * The json-c tree is kept (t->_root) and the events point into its strings, so a valid body costs
 * one parse and no copies. json-c 0.16's "strict" mode still accepts a few non-JSON forms (single
 * quotes, NaN); they are harmless here because every value is re-checked by type and rule.
 */
#include "pg_trigger.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_b64.h"
#include "pg_chan_name.h"
#include "pg_socket_id.h"

#define PG_TRIGGER_DEPTH 16
#define NONCE_BYTES 24   /* crypto_secretbox_NONCEBYTES */
#define MAC_BYTES 16     /* crypto_secretbox_MACBYTES: the smallest valid ciphertext */
#define WORD_ECHO_MAX 32 /* longest unknown info word quoted back in an error */

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. json-c's
 * JSON_TOKENER_VALIDATE_UTF8 only checks the byte structure, and a frame carrying such bytes
 * would make browsers fail every subscriber's WebSocket (text frames must be valid UTF-8). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return false;
        }
        if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/* Parses len bytes as one JSON value; the whole input must be consumed. */
static struct json_object *parse_strict(const char *s, size_t len, int depth, int *why)
{
    struct json_tokener *tok;
    struct json_object *o;

    *why = 0;
    if (len > INT32_MAX) {
        *why = -1;
        return NULL;
    }
    if (!utf8_valid((const unsigned char *)s, len)) {
        *why = json_tokener_error_parse_utf8_string;
        return NULL;
    }
    tok = json_tokener_new_ex(depth);
    if (!tok) {
        *why = -ENOMEM;
        return NULL;
    }
    /* Trailing bytes are allowed by json-c only so that we can name them in the error. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, s, (int)len);
    if (!o) {
        *why = (int)json_tokener_get_error(tok);
        if (*why == 0) /* a bare null: valid JSON, but not an object */
            *why = -3;
    } else {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && (s[end] == ' ' || s[end] == '\t' || s[end] == '\r' || s[end] == '\n'))
            end++;
        if (end != len) {
            json_object_put(o);
            o = NULL;
            *why = -2;
        }
    }
    json_tokener_free(tok);
    return o;
}

static int body_error(int why, char *err, size_t errlen)
{
    switch (why) {
    case -ENOMEM:
        return fail(-ENOMEM, err, errlen, "Out of memory");
    case -2:
        return fail(-EINVAL, err, errlen, "Malformed JSON: trailing characters after the body");
    case -3:
        return fail(-EINVAL, err, errlen, "Body must be a JSON object");
    case json_tokener_continue:
        return fail(-EINVAL, err, errlen, "Malformed JSON: unexpected end of body");
    case json_tokener_error_depth:
        return fail(-EINVAL, err, errlen, "Malformed JSON: nested more than %d deep",
                    PG_TRIGGER_DEPTH);
    case json_tokener_error_parse_utf8_string:
        return fail(-EINVAL, err, errlen, "Malformed JSON: invalid UTF-8");
    default:
        if (why > 0)
            return fail(-EINVAL, err, errlen, "Malformed JSON: %s",
                        json_tokener_error_desc((enum json_tokener_error)why));
        return fail(-EINVAL, err, errlen, "Malformed JSON");
    }
}

/* Member key of obj, treating a JSON null like an absent member. */
static struct json_object *member(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

int pg_trigger_info_flags(const char *s, size_t len, unsigned allowed, unsigned *out, char *err,
                          size_t errlen)
{
    static const struct {
        const char *word;
        size_t len;
        unsigned bit;
    } words[] = {
        {"user_count", 10, PG_INFO_USER_COUNT},
        {"subscription_count", 18, PG_INFO_SUBSCRIPTION_COUNT},
        {"cache", 5, PG_INFO_CACHE},
    };
    size_t i = 0;

    *out = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        size_t n = j - i, w = 0;
        while (w < sizeof words / sizeof *words &&
               !((words[w].bit & allowed) && n == words[w].len &&
                 memcmp(s + i, words[w].word, n) == 0))
            w++;
        if (w < sizeof words / sizeof *words) {
            *out |= words[w].bit;
        } else if (n > 0) {
            *out = 0;
            return fail(-EINVAL, err, errlen, "Unknown info attribute '%.*s'",
                        (int)(n > WORD_ECHO_MAX ? WORD_ECHO_MAX : n), s + i);
        }
        i = j + 1;
    }
    return 0;
}

int pg_trigger_info_parse(const char *s, size_t len, bool *users, bool *subs, char *err,
                          size_t errlen)
{
    unsigned f;
    int rc = pg_trigger_info_flags(s, len, PG_INFO_USER_COUNT | PG_INFO_SUBSCRIPTION_COUNT, &f, err,
                                   errlen);
    *users = (f & PG_INFO_USER_COUNT) != 0;
    *subs = (f & PG_INFO_SUBSCRIPTION_COUNT) != 0;
    return rc;
}

/* The private-encrypted envelope {"nonce":<base64 of 24 bytes>,"ciphertext":<base64, >= 16
 * bytes>} (spec 6.3). Returns 0 or -EINVAL / -ENOMEM; never says anything about the data. */
static int check_envelope(const char *data, size_t dlen)
{
    struct json_object *o, *nonce, *ct;
    unsigned char nbuf[NONCE_BYTES + 8];
    unsigned char *cbuf;
    size_t n = 0, clen, cmax;
    int why, rc = -EINVAL;

    o = parse_strict(data, dlen, 4, &why);
    if (!o)
        return why == -ENOMEM ? -ENOMEM : -EINVAL;
    if (!json_object_is_type(o, json_type_object))
        goto out;
    nonce = member(o, "nonce");
    ct = member(o, "ciphertext");
    if (!json_object_is_type(nonce, json_type_string) || !json_object_is_type(ct, json_type_string))
        goto out;
    if (pg_b64_decode(json_object_get_string(nonce), (size_t)json_object_get_string_len(nonce),
                      nbuf, sizeof nbuf, &n) != 0 ||
        n != NONCE_BYTES)
        goto out;
    clen = (size_t)json_object_get_string_len(ct);
    cmax = clen / 4 * 3 + 3;
    cbuf = malloc(cmax);
    if (!cbuf) {
        rc = -ENOMEM;
        goto out;
    }
    if (pg_b64_decode(json_object_get_string(ct), clen, cbuf, cmax, &n) == 0 && n >= MAC_BYTES)
        rc = 0;
    free(cbuf);
out:
    json_object_put(o);
    return rc;
}

static int cmp_chan_ptr(const void *a, const void *b)
{
    const struct pg_trigger_chan *x = *(const struct pg_trigger_chan *const *)a;
    const struct pg_trigger_chan *y = *(const struct pg_trigger_chan *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x < y ? -1 : (x > y); /* equal names: request order, so the first one is kept */
}

/* Drops repeated names, keeping the first of each in request order. Returns the new count. */
static size_t dedupe(struct pg_trigger_chan *c, size_t n)
{
    if (n < 2)
        return n;
    if (n <= 16) { /* the usual case: no allocation */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < k && !(c[j].len == c[i].len && memcmp(c[j].name, c[i].name, c[i].len) == 0))
                j++;
            if (j == k)
                c[k++] = c[i];
        }
        return k;
    }
    struct pg_trigger_chan **p = malloc(n * sizeof *p);
    if (!p)
        return n; /* duplicates are harmless, only wasteful */
    for (size_t i = 0; i < n; i++)
        p[i] = &c[i];
    qsort(p, n, sizeof *p, cmp_chan_ptr);
    for (size_t i = 1, first = 0; i < n; i++) {
        /* p[first] is the earliest entry of the current run of equal names: never cleared */
        if (p[i]->len == p[first]->len && memcmp(p[i]->name, p[first]->name, p[i]->len) == 0)
            p[i]->name = NULL;
        else
            first = i;
    }
    free(p);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].name)
            c[k++] = c[i];
    return k;
}

static int check_channel(struct pg_trigger_chan *out, struct json_object *v,
                         const struct pg_app *app, const char *pfx, char *err, size_t errlen)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(-EINVAL, err, errlen, "%schannel names must be strings", pfx);
    out->name = json_object_get_string(v);
    out->len = (size_t)json_object_get_string_len(v);
    int rc = pg_chan_name_check(out->name, out->len, (long)app->max_channel_name_length);
    if (rc == -ENAMETOOLONG)
        return fail(-ENAMETOOLONG, err, errlen,
                    "%sChannel name too long (max_channel_name_length %" PRId64 ")", pfx,
                    app->max_channel_name_length);
    if (rc < 0 || memchr(out->name, 0, out->len))
        return fail(-EINVAL, err, errlen, "%sInvalid channel name", pfx);
    out->kind = pg_chan_classify(out->name, out->len);
    return 0;
}

/* Validates one event object into ev. chans has room for every channel the event names. */
static int parse_event(struct pg_trigger_event *ev, struct json_object *o,
                       struct pg_trigger_chan *chans, const struct pg_app *app, bool batch_item,
                       const char *pfx, char *err, size_t errlen)
{
    struct json_object *v, *list, *one;
    size_t named = 0;
    int rc;

    if (!json_object_is_type(o, json_type_object))
        return fail(-EINVAL, err, errlen, "%sevent must be a JSON object", pfx);

    /* name */
    v = member(o, "name");
    if (!v)
        return fail(-EINVAL, err, errlen, "%sMissing name", pfx);
    if (!json_object_is_type(v, json_type_string))
        return fail(-EINVAL, err, errlen, "%sname must be a string", pfx);
    ev->name = json_object_get_string(v);
    ev->nlen = (size_t)json_object_get_string_len(v);
    rc = pg_event_name_check(ev->name, ev->nlen, (long)app->max_event_name_length);
    if (rc == -ENAMETOOLONG)
        return fail(-ENAMETOOLONG, err, errlen,
                    "%sEvent name too long (max_event_name_length %" PRId64 ")", pfx,
                    app->max_event_name_length);
    if (rc < 0 || memchr(ev->name, 0, ev->nlen))
        return fail(-EINVAL, err, errlen, "%sInvalid event name", pfx);
    if ((ev->nlen >= 7 && memcmp(ev->name, "pusher:", 7) == 0) ||
        (ev->nlen >= 16 && memcmp(ev->name, "pusher_internal:", 16) == 0))
        return fail(-EINVAL, err, errlen,
                    "%sEvent names starting with pusher: or pusher_internal: are reserved", pfx);

    /* data: a string byte for byte; any other value serialized (lenient, spec 9.3) */
    v = member(o, "data");
    if (!v)
        return fail(-EINVAL, err, errlen, "%sMissing data", pfx);
    if (json_object_is_type(v, json_type_string)) {
        ev->data = json_object_get_string(v);
        ev->dlen = (size_t)json_object_get_string_len(v);
    } else {
        /* NOSLASHESCAPE: the same text JSON.stringify would give. The string lives in v. */
        ev->data = json_object_to_json_string_length(
            v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &ev->dlen);
        if (!ev->data)
            return fail(-ENOMEM, err, errlen, "Out of memory");
    }
    if (app->max_event_payload_in_kb >= 0 &&
        (int64_t)ev->dlen > app->max_event_payload_in_kb * 1024)
        return fail(-EMSGSIZE, err, errlen,
                    "%sEvent data too large (max_event_payload_in_kb %" PRId64 ")", pfx,
                    app->max_event_payload_in_kb);

    /* channels / channel */
    list = member(o, "channels");
    one = member(o, "channel");
    if (batch_item && list)
        return fail(-EINVAL, err, errlen,
                    "%sbatch events take a single channel, not a channels array", pfx);
    if (list && one)
        return fail(-EINVAL, err, errlen, "%sGive either channels or channel, not both", pfx);
    if (list) {
        if (!json_object_is_type(list, json_type_array))
            return fail(-EINVAL, err, errlen, "%schannels must be an array", pfx);
        named = json_object_array_length(list);
        if (named == 0)
            return fail(-EINVAL, err, errlen, "%schannels must not be empty", pfx);
        if (app->max_event_channels_at_once >= 0 &&
            (int64_t)named > app->max_event_channels_at_once)
            return fail(-E2BIG, err, errlen,
                        "%sToo many channels (max_event_channels_at_once %" PRId64 ")", pfx,
                        app->max_event_channels_at_once);
        for (size_t i = 0; i < named; i++) {
            rc =
                check_channel(&chans[i], json_object_array_get_idx(list, i), app, pfx, err, errlen);
            if (rc < 0)
                return rc;
        }
    } else if (one) {
        named = 1;
        rc = check_channel(&chans[0], one, app, pfx, err, errlen);
        if (rc < 0)
            return rc;
    } else {
        return fail(-EINVAL, err, errlen, "%sMissing %s", pfx, batch_item ? "channel" : "channels");
    }
    ev->chans = chans;
    ev->nchan = dedupe(chans, named);

    /* socket_id */
    v = member(o, "socket_id");
    if (v) {
        if (!json_object_is_type(v, json_type_string) ||
            !pg_socket_id_valid(json_object_get_string(v), (size_t)json_object_get_string_len(v)))
            return fail(-EINVAL, err, errlen, "%sInvalid socket_id", pfx);
        ev->socket_id = json_object_get_string(v);
        ev->slen = (size_t)json_object_get_string_len(v);
    }

    /* info */
    v = member(o, "info");
    if (v) {
        if (!json_object_is_type(v, json_type_string))
            return fail(-EINVAL, err, errlen, "%sinfo must be a string", pfx);
        char why[96];
        if (pg_trigger_info_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                                  &ev->info_users, &ev->info_subs, why, sizeof why) < 0)
            return fail(-EINVAL, err, errlen, "%s%s", pfx, why);
    }

    /* per-channel rules */
    /* user_count must apply to some target: Pusher answers a mixed multi-channel trigger with
     * user_count for its presence channels only (spec 9.3 example), and refuses it otherwise. */
    bool encrypted = false, presence = false;
    for (size_t i = 0; i < ev->nchan; i++) {
        if (ev->chans[i].kind & PG_CHAN_ENCRYPTED)
            encrypted = true;
        if (ev->chans[i].kind & PG_CHAN_PRESENCE)
            presence = true;
    }
    if (ev->info_users && !presence)
        return fail(-EINVAL, err, errlen, "%suser_count is only available for presence channels",
                    pfx);
    if (encrypted && named > 1)
        return fail(-EINVAL, err, errlen,
                    "%sCannot trigger on more than one channel when one is private-encrypted-",
                    pfx);
    if (encrypted) {
        rc = check_envelope(ev->data, ev->dlen);
        if (rc == -ENOMEM)
            return fail(-ENOMEM, err, errlen, "Out of memory");
        if (rc < 0 && app->has_encryption_key) {
            ev->encrypt = true; /* plaintext: the gateway encrypts it with the channel key */
            rc = 0;
        }
        if (rc < 0)
            return fail(-EINVAL, err, errlen,
                        "%sprivate-encrypted channels require an encrypted payload: data must be "
                        "{\"nonce\":<base64 of 24 bytes>,\"ciphertext\":<base64>}",
                        pfx);
    }
    return 0;
}

int pg_trigger_parse(struct pg_trigger *t, const struct pg_app *app, const char *body, size_t len,
                     bool batch, char *err, size_t errlen)
{
    struct json_object *root, *items = NULL;
    size_t nev, nchan;
    int why, rc;

    memset(t, 0, sizeof *t);
    if (err && errlen)
        err[0] = '\0';
    if (len == 0)
        return fail(-EINVAL, err, errlen, "Request body is empty");
    root = parse_strict(body, len, PG_TRIGGER_DEPTH, &why);
    if (!root) {
        /* json-c cannot finish a bare scalar (null, 12) without a following byte */
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
            i++;
        if (why == json_tokener_continue && i < len && body[i] != '{' && body[i] != '[')
            why = -3;
        return body_error(why, err, errlen);
    }
    t->_root = root;
    t->batch = batch;
    if (!json_object_is_type(root, json_type_object)) {
        rc = fail(-EINVAL, err, errlen, "Body must be a JSON object");
        goto fail;
    }

    if (batch) {
        items = member(root, "batch");
        if (!items) {
            rc = fail(-EINVAL, err, errlen, "Missing batch");
            goto fail;
        }
        if (!json_object_is_type(items, json_type_array)) {
            rc = fail(-EINVAL, err, errlen, "batch must be an array");
            goto fail;
        }
        nev = json_object_array_length(items);
        if (nev == 0) {
            rc = fail(-EINVAL, err, errlen, "batch must not be empty");
            goto fail;
        }
        if (app->max_event_batch_size >= 0 && (int64_t)nev > app->max_event_batch_size) {
            rc = fail(-E2BIG, err, errlen,
                      "Too many events in batch (max_event_batch_size %" PRId64 ")",
                      app->max_event_batch_size);
            goto fail;
        }
        nchan = nev; /* one channel per item; a "channels" array is refused */
    } else {
        struct json_object *list = member(root, "channels");
        nev = 1;
        nchan = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 1;
        if (nchan == 0)
            nchan = 1;
    }

    t->ev = calloc(nev, sizeof *t->ev);
    t->_chans = calloc(nchan, sizeof *t->_chans);
    if (!t->ev || !t->_chans) {
        rc = fail(-ENOMEM, err, errlen, "Out of memory");
        goto fail;
    }
    t->nev = nev;

    if (!batch) {
        rc = parse_event(&t->ev[0], root, t->_chans, app, false, "", err, errlen);
        if (rc < 0)
            goto fail;
    } else {
        for (size_t i = 0; i < nev; i++) {
            char pfx[32];
            snprintf(pfx, sizeof pfx, "batch[%zu]: ", i);
            rc = parse_event(&t->ev[i], json_object_array_get_idx(items, i), &t->_chans[i], app,
                             true, pfx, err, errlen);
            if (rc < 0)
                goto fail;
        }
    }
    for (size_t i = 0; i < nev; i++)
        if (t->ev[i].info_users || t->ev[i].info_subs)
            t->any_info = true;
    return 0;

fail:
    pg_trigger_dispose(t);
    return rc;
}

void pg_trigger_dispose(struct pg_trigger *t)
{
    if (!t)
        return;
    json_object_put(t->_root);
    free(t->ev);
    free(t->_chans);
    memset(t, 0, sizeof *t);
}
