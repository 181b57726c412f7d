/* fuzz_trigger.c - gateway/pg_trigger: REST trigger bodies (spec 9.3 /events, 9.4 /batch_events,
 * 6.3 encrypted channels). Each input is parsed both as an /events and as a /batch_events body,
 * against three apps: the default limits, no limits with an encryption master key, and tight
 * limits. It is also read as an "info" attribute list.
 */
#include <errno.h>

#include "fuzz.h"
#include "pg_chan_name.h"
#include "pg_config.h"
#include "pg_socket_id.h"
#include "pg_trigger.h"

#define NAPPS 3

static struct pg_app apps[NAPPS];

static void set_limits(struct pg_app *a, int64_t names, int64_t kb, int64_t batch, int64_t chans)
{
    a->id = "1";
    a->key = "key";
    a->secret = "secret";
    a->secret_len = 6;
    a->enabled = true;
    a->max_channel_name_length = names;
    a->max_event_name_length = names;
    a->max_event_payload_in_kb = kb;
    a->max_event_batch_size = batch;
    a->max_event_channels_at_once = chans;
}

static void init_apps(void)
{
    set_limits(&apps[0], 200, 10, 10, 100); /* the config defaults */
    set_limits(&apps[1], PG_UNLIMITED, PG_UNLIMITED, PG_UNLIMITED, PG_UNLIMITED);
    apps[1].has_encryption_key = true;
    memset(apps[1].encryption_master_key, 0x5a, sizeof apps[1].encryption_master_key);
    set_limits(&apps[2], 12, 1, 2, 3);
}

static bool within(size_t n, int64_t limit) { return limit < 0 || (int64_t)n <= limit; }

static void check_event(const struct pg_trigger_event *ev, const struct pg_app *app, bool batch)
{
    bool presence = false, encrypted = false;

    FUZZ_CHECK(ev->name && ev->nlen > 0 && ev->name[ev->nlen] == '\0');
    FUZZ_CHECK(!memchr(ev->name, 0, ev->nlen) && within(ev->nlen, app->max_event_name_length));
    FUZZ_CHECK(strncmp(ev->name, "pusher:", 7) != 0);
    FUZZ_CHECK(strncmp(ev->name, "pusher_internal:", 16) != 0);
    FUZZ_CHECK(ev->data && ev->data[ev->dlen] == '\0');
    FUZZ_CHECK(app->max_event_payload_in_kb < 0 ||
               (int64_t)ev->dlen <= app->max_event_payload_in_kb * 1024);
    FUZZ_CHECK(ev->nchan >= 1 && ev->chans && (!batch || ev->nchan == 1));
    FUZZ_CHECK(within(ev->nchan, app->max_event_channels_at_once));
    for (size_t i = 0; i < ev->nchan; i++) {
        const struct pg_trigger_chan *c = &ev->chans[i];
        FUZZ_CHECK(c->name && c->name[c->len] == '\0' && !memchr(c->name, 0, c->len));
        FUZZ_CHECK(pg_chan_name_check(c->name, c->len, (long)app->max_channel_name_length) == 0);
        FUZZ_CHECK(c->kind == pg_chan_classify(c->name, c->len));
        for (size_t j = 0; j < i && j < 256; j++) /* duplicates are dropped */
            FUZZ_CHECK(c->len != ev->chans[j].len || memcmp(c->name, ev->chans[j].name, c->len));
        presence |= (c->kind & PG_CHAN_PRESENCE) != 0;
        encrypted |= (c->kind & PG_CHAN_ENCRYPTED) != 0;
    }
    FUZZ_CHECK(!ev->socket_id || pg_socket_id_valid(ev->socket_id, ev->slen));
    FUZZ_CHECK(!ev->info_users || presence);
    FUZZ_CHECK(!encrypted || ev->nchan == 1);
    FUZZ_CHECK(!ev->encrypt || (encrypted && app->has_encryption_key));
}

static void parse(const struct pg_app *app, const char *body, size_t len, bool batch)
{
    struct pg_trigger t;
    char err[256];
    int rc = pg_trigger_parse(&t, app, body, len, batch, err, sizeof err);

    FUZZ_CHECK(memchr(err, 0, sizeof err) != NULL);
    if (rc < 0) {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENAMETOOLONG || rc == -E2BIG || rc == -EMSGSIZE ||
                   rc == -ENOMEM);
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(!t.ev && !t.nev && !t._root && !t._chans && !t.any_info);
        return;
    }
    FUZZ_CHECK(rc == 0 && t.batch == batch && t.nev >= 1 && (batch || t.nev == 1));
    FUZZ_CHECK(!batch || within(t.nev, app->max_event_batch_size));
    bool info = false;
    for (size_t i = 0; i < t.nev; i++) {
        check_event(&t.ev[i], app, batch);
        info |= t.ev[i].info_users || t.ev[i].info_subs;
    }
    FUZZ_CHECK(t.any_info == info);
    pg_trigger_dispose(&t);
    FUZZ_CHECK(!t.ev && !t._root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const char *body = (const char *)data;
    char err[128];
    unsigned flags;
    bool users, subs;

    if (!init++)
        init_apps();
    for (int i = 0; i < NAPPS; i++) {
        parse(&apps[i], body, size, false);
        parse(&apps[i], body, size, true);
    }

    int rc = pg_trigger_info_flags(body, size, PG_INFO_USER_COUNT | PG_INFO_CACHE, &flags, err,
                                   sizeof err);
    FUZZ_CHECK(rc == 0 ? !(flags & ~(unsigned)(PG_INFO_USER_COUNT | PG_INFO_CACHE))
                       : rc == -EINVAL && flags == 0);
    rc = pg_trigger_info_parse(body, size, &users, &subs, err, sizeof err);
    FUZZ_CHECK(rc == 0 || (rc == -EINVAL && !users && !subs));
    return 0;
}
