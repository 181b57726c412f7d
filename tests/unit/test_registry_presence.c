/* test_registry_presence.c - presence in the shared channel table (pg_registry): tabs, rosters,
 * the member limit, user lists, and member_added / member_removed broadcasts. */
#include <json-c/json.h>

#include "test_registry_util.h"

/* Parses a roster and checks its shape; returns the "presence" object's parent (caller puts). */
static json_object *parse_roster(const char *text, int want_count)
{
    json_object *root = json_tokener_parse(text);
    if (!root)
        fail_msg("roster is not JSON: %s", text);
    assert_int_equal(json_object_object_length(root), 1);
    json_object *p, *ids, *hash, *count;
    assert_true(json_object_object_get_ex(root, "presence", &p));
    assert_int_equal(json_object_object_length(p), 3);
    assert_true(json_object_object_get_ex(p, "ids", &ids));
    assert_true(json_object_object_get_ex(p, "hash", &hash));
    assert_true(json_object_object_get_ex(p, "count", &count));
    assert_true(json_object_is_type(ids, json_type_array));
    assert_true(json_object_is_type(hash, json_type_object));
    assert_true(json_object_is_type(count, json_type_int));
    assert_int_equal(json_object_get_int(count), want_count);
    assert_int_equal(json_object_array_length(ids), (size_t)want_count);
    assert_int_equal(json_object_object_length(hash), want_count);
    /* Every id has exactly one hash entry. */
    for (int i = 0; i < want_count; i++) {
        json_object *id = json_object_array_get_idx(ids, (size_t)i);
        assert_true(json_object_is_type(id, json_type_string));
        assert_true(json_object_object_get_ex(hash, json_object_get_string(id), NULL));
    }
    return root;
}

static json_object *roster_hash(json_object *root)
{
    json_object *p, *hash;
    json_object_object_get_ex(root, "presence", &p);
    json_object_object_get_ex(p, "hash", &hash);
    return hash;
}

static bool roster_has_id(json_object *root, const char *id)
{
    json_object *p, *ids;
    json_object_object_get_ex(root, "presence", &p);
    json_object_object_get_ex(p, "ids", &ids);
    for (size_t i = 0; i < json_object_array_length(ids); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(ids, i)), id) == 0)
            return true;
    return false;
}

/* ---- presence ---- */

static void test_presence_tabs(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(3, NULL);
    const char *ch = "presence-x";

    assert_int_equal(join(r, APP, ch, 0, "1.1", "1", "{\"name\":\"a\"}", -1, NULL), 1);
    assert_int_equal(subs_of(r, APP, ch), 1);
    assert_int_equal(users_of(r, APP, ch), 1);
    assert_int_equal(mask_of(r, APP, ch), 0x1);

    /* Another tab of the same user, another socket, another worker. */
    assert_int_equal(join(r, APP, ch, 1, "2.2", "1", "{\"name\":\"a\"}", -1, NULL), 0);
    assert_int_equal(subs_of(r, APP, ch), 2);
    assert_int_equal(users_of(r, APP, ch), 1);
    assert_int_equal(mask_of(r, APP, ch), 0x3);
    /* A third tab on the first worker. */
    assert_int_equal(join(r, APP, ch, 0, "3.3", "1", "{\"name\":\"a\"}", -1, NULL), 0);
    assert_int_equal(subs_of(r, APP, ch), 3);
    assert_int_equal(users_of(r, APP, ch), 1);

    assert_int_equal(join(r, APP, ch, 2, "4.4", "2", NULL, -1, NULL), 1);
    assert_int_equal(subs_of(r, APP, ch), 4);
    assert_int_equal(users_of(r, APP, ch), 2);
    assert_int_equal(mask_of(r, APP, ch), 0x7);

    /* Unknown user, or unknown channel. */
    assert_int_equal(leave(r, APP, ch, 0, "3"), -ENOENT);
    assert_int_equal(leave(r, APP, "presence-y", 0, "1"), -ENOENT);
    assert_int_equal(leave(r, APP, ch, 0, "11"), -ENOENT); /* no prefix match */
    assert_int_equal(subs_of(r, APP, ch), 4);

    assert_int_equal(leave(r, APP, ch, 1, "1"), 0);
    assert_int_equal(subs_of(r, APP, ch), 3);
    assert_int_equal(users_of(r, APP, ch), 2);
    assert_int_equal(mask_of(r, APP, ch), 0x5);
    assert_int_equal(leave(r, APP, ch, 0, "1"), 0);
    assert_int_equal(users_of(r, APP, ch), 2);
    assert_int_equal(mask_of(r, APP, ch), 0x5);
    assert_int_equal(leave(r, APP, ch, 0, "1"), 1); /* last tab */
    assert_int_equal(subs_of(r, APP, ch), 1);
    assert_int_equal(users_of(r, APP, ch), 1);
    assert_int_equal(mask_of(r, APP, ch), 0x4);
    assert_int_equal(leave(r, APP, ch, 0, "1"), -ENOENT); /* already gone */
    assert_int_equal(subs_of(r, APP, ch), 1);

    assert_int_equal(leave(r, APP, ch, 2, "2"), 1);
    assert_int_equal(subs_of(r, APP, ch), -ENOENT);
    assert_int_equal(mask_of(r, APP, ch), 0);
    struct pg_buf b;
    pg_buf_init(&b);
    assert_int_equal(pg_registry_presence_roster(r, APP, S("presence-x"), &b), -ENOENT);
    assert_int_equal(b.len, 0);
    struct listing *l = malloc(sizeof *l);
    list(r, APP, NULL, l);
    assert_int_equal(l->n, 0);
    free(l);
    pg_buf_dispose(&b);
    pg_registry_destroy(r);
}

static void test_presence_roster_text(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(2, NULL);
    struct pg_buf b;
    pg_buf_init(&b);

    assert_int_equal(join(r, APP, "presence-x", 0, "1.1", "1", "{\"name\":\"a\"}", -1, &b), 1);
    assert_string_equal(pg_buf_cstr(&b),
                        "{\"presence\":{\"ids\":[\"1\"],\"hash\":{\"1\":{\"name\":\"a\"}},"
                        "\"count\":1}}");

    pg_buf_reset(&b);
    assert_int_equal(join(r, APP, "presence-x", 1, "2.2", "2", NULL, -1, &b), 1);
    assert_string_equal(pg_buf_cstr(&b), "{\"presence\":{\"ids\":[\"1\",\"2\"],\"hash\":{\"1\":{"
                                         "\"name\":\"a\"},\"2\":null},\"count\":2}}");

    /* A second tab sees the same roster: the user is listed once. */
    pg_buf_reset(&b);
    assert_int_equal(join(r, APP, "presence-x", 1, "3.3", "1", "{\"name\":\"ignored\"}", -1, &b),
                     0);
    assert_string_equal(pg_buf_cstr(&b), "{\"presence\":{\"ids\":[\"1\",\"2\"],\"hash\":{\"1\":{"
                                         "\"name\":\"a\"},\"2\":null},\"count\":2}}");

    /* An id that needs escaping, and nested user_info passed through verbatim. */
    pg_buf_reset(&b);
    const char *info = "{\"name\":\"c\",\"tags\":[1,2,{\"x\":null}]}";
    assert_int_equal(join(r, APP, "presence-x", 0, "4.4", "u\"3\\", info, -1, &b), 1);
    assert_string_equal(pg_buf_cstr(&b),
                        "{\"presence\":{\"ids\":[\"1\",\"2\",\"u\\\"3\\\\\"],\"hash\":{\"1\":{"
                        "\"name\":\"a\"},\"2\":null,\"u\\\"3\\\\\":{\"name\":\"c\",\"tags\":[1,2,{"
                        "\"x\":null}]}},\"count\":3}}");

    json_object *root = parse_roster(pg_buf_cstr(&b), 3);
    json_object *hash = roster_hash(root), *v, *name;
    assert_true(json_object_object_get_ex(hash, "1", &v));
    assert_true(json_object_object_get_ex(v, "name", &name));
    assert_string_equal(json_object_get_string(name), "a");
    assert_true(json_object_object_get_ex(hash, "2", &v));
    assert_null(v); /* JSON null */
    assert_true(json_object_object_get_ex(hash, "u\"3\\", &v));
    assert_true(json_object_is_type(v, json_type_object));
    assert_true(roster_has_id(root, "u\"3\\"));
    json_object_put(root);

    /* presence_roster writes the same text and returns the user count. */
    struct pg_buf b2;
    pg_buf_init(&b2);
    assert_int_equal(pg_registry_presence_roster(r, APP, S("presence-x"), &b2), 3);
    assert_string_equal(pg_buf_cstr(&b2), pg_buf_cstr(&b));
    pg_buf_dispose(&b2);

    /* After a leave the roster no longer has the user (order may change: check as JSON). */
    assert_int_equal(leave(r, APP, "presence-x", 1, "2"), 1);
    pg_buf_reset(&b);
    assert_int_equal(pg_registry_presence_roster(r, APP, S("presence-x"), &b), 2);
    root = parse_roster(pg_buf_cstr(&b), 2);
    assert_true(roster_has_id(root, "1"));
    assert_true(roster_has_id(root, "u\"3\\"));
    assert_false(roster_has_id(root, "2"));
    assert_false(json_object_object_get_ex(roster_hash(root), "2", NULL));
    json_object_put(root);

    /* Unknown channel. */
    pg_buf_reset(&b);
    assert_int_equal(pg_registry_presence_roster(r, APP, S("presence-nobody"), &b), -ENOENT);
    assert_int_equal(b.len, 0);
    assert_int_equal(pg_registry_presence_roster(r, APP + 1, S("presence-x"), &b), -ENOENT);

    pg_buf_dispose(&b);
    pg_registry_destroy(r); /* members left: destroy frees them (ASan) */
}

static void test_presence_max_members(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(2, NULL);
    struct pg_buf b;
    pg_buf_init(&b);
    const char *ch = "presence-small";

    assert_int_equal(join(r, APP, ch, 0, "1.1", "1", NULL, 2, NULL), 1);
    assert_int_equal(join(r, APP, ch, 1, "2.2", "2", NULL, 2, NULL), 1);
    /* A new user is refused; nothing changes and no roster is written. */
    assert_int_equal(join(r, APP, ch, 0, "3.3", "3", "{}", 2, &b), -ENOSPC);
    assert_int_equal(b.len, 0);
    assert_int_equal(subs_of(r, APP, ch), 2);
    assert_int_equal(users_of(r, APP, ch), 2);
    assert_int_equal(mask_of(r, APP, ch), 0x3);
    assert_int_equal(leave(r, APP, ch, 0, "3"), -ENOENT);
    /* Another tab of a known user still gets in. */
    assert_int_equal(join(r, APP, ch, 1, "4.4", "1", NULL, 2, &b), 0);
    assert_int_equal(subs_of(r, APP, ch), 3);
    assert_int_equal(users_of(r, APP, ch), 2);
    json_object *root = parse_roster(pg_buf_cstr(&b), 2);
    json_object_put(root);
    /* Room again once a user left. */
    assert_int_equal(leave(r, APP, ch, 1, "2"), 1);
    assert_int_equal(join(r, APP, ch, 0, "3.3", "3", NULL, 2, NULL), 1);
    assert_int_equal(join(r, APP, ch, 0, "5.5", "5", NULL, 2, NULL), -ENOSPC);

    /* max 0 on an unknown channel: refused and the channel is not left behind. */
    assert_int_equal(join(r, APP, "presence-none", 0, "1.1", "1", NULL, 0, NULL), -ENOSPC);
    assert_int_equal(subs_of(r, APP, "presence-none"), -ENOENT);
    assert_int_equal(mask_of(r, APP, "presence-none"), 0);
    pg_buf_reset(&b);
    assert_int_equal(pg_registry_presence_roster(r, APP, S("presence-none"), &b), -ENOENT);
    struct listing *l = malloc(sizeof *l);
    list(r, APP, "presence-none", l);
    assert_int_equal(l->n, 0);
    free(l);

    /* max < 0: no limit. */
    char uid[16];
    for (int i = 0; i < 200; i++) {
        snprintf(uid, sizeof uid, "u%d", i);
        assert_int_equal(join(r, APP, "presence-big", (unsigned)i % 2, "9.9", uid, NULL, -1, NULL),
                         1);
    }
    assert_int_equal(users_of(r, APP, "presence-big"), 200);
    pg_buf_reset(&b);
    assert_int_equal(pg_registry_presence_roster(r, APP, S("presence-big"), &b), 200);
    root = parse_roster(pg_buf_cstr(&b), 200);
    json_object_put(root);
    for (int i = 0; i < 200; i++) {
        snprintf(uid, sizeof uid, "u%d", i);
        assert_int_equal(leave(r, APP, "presence-big", (unsigned)i % 2, uid), 1);
    }
    assert_int_equal(subs_of(r, APP, "presence-big"), -ENOENT);

    pg_buf_dispose(&b);
    pg_registry_destroy(r);
}

struct userlist {
    int n;
    char id[8][16];
};

static void user_cb(void *ctx, const char *uid, size_t len)
{
    struct userlist *u = ctx;
    assert_true(u->n < 8 && len < sizeof u->id[0]);
    memcpy(u->id[u->n], uid, len);
    u->id[u->n][len] = 0;
    u->n++;
}

static bool has_user(const struct userlist *u, const char *id)
{
    int found = 0;
    for (int i = 0; i < u->n; i++)
        found += strcmp(u->id[i], id) == 0;
    assert_true(found <= 1); /* distinct */
    return found == 1;
}

static void test_presence_users(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(2, NULL);
    struct userlist u = {0};
    assert_int_equal(pg_registry_users(r, APP, S("presence-x"), user_cb, &u), -ENOENT);
    assert_int_equal(u.n, 0);

    join(r, APP, "presence-x", 0, "1.1", "a", NULL, -1, NULL);
    join(r, APP, "presence-x", 1, "1.2", "a", NULL, -1, NULL);
    join(r, APP, "presence-x", 1, "1.3", "b", NULL, -1, NULL);
    join(r, APP, "presence-x", 0, "1.4", "c", "{\"k\":1}", -1, NULL);
    join(r, APP, "presence-x", 0, "1.5", "b", NULL, -1, NULL);
    join(r, APP + 1, "presence-x", 0, "1.6", "z", NULL, -1, NULL);

    assert_int_equal(pg_registry_users(r, APP, S("presence-x"), user_cb, &u), 3);
    assert_int_equal(u.n, 3);
    assert_true(has_user(&u, "a"));
    assert_true(has_user(&u, "b"));
    assert_true(has_user(&u, "c"));
    assert_false(has_user(&u, "z"));

    leave(r, APP, "presence-x", 0, "a"); /* a keeps a tab */
    leave(r, APP, "presence-x", 0, "c");
    memset(&u, 0, sizeof u);
    assert_int_equal(pg_registry_users(r, APP, S("presence-x"), user_cb, &u), 2);
    assert_true(has_user(&u, "a"));
    assert_true(has_user(&u, "b"));
    assert_false(has_user(&u, "c"));

    memset(&u, 0, sizeof u);
    assert_int_equal(pg_registry_users(r, APP + 1, S("presence-x"), user_cb, &u), 1);
    assert_true(has_user(&u, "z"));
    pg_registry_destroy(r);
}

/* ---- presence broadcasts through a real bus ---- */

#define ADDED1                                                                                     \
    "{\"event\":\"pusher_internal:member_added\",\"channel\":\"presence-x\",\"data\":\"{"          \
    "\\\"user_id\\\":\\\"1\\\",\\\"user_info\\\":{\\\"name\\\":\\\"a\\\"}}\"}"
#define ADDED2                                                                                     \
    "{\"event\":\"pusher_internal:member_added\",\"channel\":\"presence-x\",\"data\":\"{"          \
    "\\\"user_id\\\":\\\"2\\\",\\\"user_info\\\":null}\"}"
#define REMOVED1                                                                                   \
    "{\"event\":\"pusher_internal:member_removed\",\"channel\":\"presence-x\",\"data\":\"{"        \
    "\\\"user_id\\\":\\\"1\\\"}\"}"
#define REMOVED2                                                                                   \
    "{\"event\":\"pusher_internal:member_removed\",\"channel\":\"presence-x\",\"data\":\"{"        \
    "\\\"user_id\\\":\\\"2\\\"}\"}"

/* Takes worker w's inbox and checks it holds exactly one event with payload want. */
static void expect_one(struct pg_bus *b, unsigned w, int app, const char *want, const char *except)
{
    struct pg_bus_item *it = pg_bus_take(b, w);
    if (!it)
        fail_msg("worker %u: no item, want %s", w, want);
    assert_null(it->next);
    assert_int_equal(it->kind, PG_BUS_EVENT);
    assert_int_equal(it->app, app);
    assert_string_equal(it->channel, "presence-x");
    assert_int_equal(it->clen, 10);
    assert_string_equal(it->except, except);
    assert_non_null(it->msg);
    assert_int_equal(it->msg->refs, 1);
    const char *got = (const char *)pg_msg_data(it->msg);
    if (it->msg->len != strlen(want) || memcmp(got, want, it->msg->len) != 0)
        fail_msg("worker %u\n  got  %.*s\n  want %s", w, (int)it->msg->len, got, want);
    pg_bus_item_free(it);
}

static void expect_none(struct pg_bus *b, unsigned w)
{
    struct pg_bus_item *it = pg_bus_take(b, w);
    if (it) {
        fail_msg("worker %u: unexpected %.*s", w, (int)(it->msg ? it->msg->len : 0),
                 it->msg ? (const char *)pg_msg_data(it->msg) : "");
    }
}

static void test_presence_broadcasts(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(2, (size_t)1 << 30);
    struct pg_registry *r = pg_registry_create(2, b);

    /* First user, on worker 0: member_added to worker 0 (the joiner's socket excluded). */
    assert_int_equal(join(r, 7, "presence-x", 0, "1.1", "1", "{\"name\":\"a\"}", -1, NULL), 1);
    expect_one(b, 0, 7, ADDED1, "1.1");
    expect_none(b, 1);

    /* Second user on worker 1: both workers are in the mask now. */
    assert_int_equal(join(r, 7, "presence-x", 1, "2.2", "2", NULL, -1, NULL), 1);
    expect_one(b, 0, 7, ADDED2, "2.2");
    expect_one(b, 1, 7, ADDED2, "2.2");

    /* Another tab of user 1, on either worker: no broadcast. */
    assert_int_equal(join(r, 7, "presence-x", 1, "3.3", "1", "{\"name\":\"a\"}", -1, NULL), 0);
    assert_int_equal(join(r, 7, "presence-x", 0, "4.4", "1", "{\"name\":\"a\"}", -1, NULL), 0);
    expect_none(b, 0);
    expect_none(b, 1);

    /* A refused join (limit) broadcasts nothing. */
    assert_int_equal(join(r, 7, "presence-x", 0, "5.5", "9", NULL, 2, NULL), -ENOSPC);
    expect_none(b, 0);
    expect_none(b, 1);

    /* Tabs leaving: nothing until the last one. */
    assert_int_equal(leave(r, 7, "presence-x", 0, "1"), 0);
    assert_int_equal(leave(r, 7, "presence-x", 1, "1"), 0);
    expect_none(b, 0);
    expect_none(b, 1);
    /* Last tab of user 1 (on worker 0): workers 0 and 1 still have subscribers. */
    assert_int_equal(leave(r, 7, "presence-x", 0, "1"), 1);
    expect_one(b, 1, 7, REMOVED1, "");
    expect_none(b, 0); /* worker 0 has nobody left in the channel */

    /* Leaving unknown user: nothing. */
    assert_int_equal(leave(r, 7, "presence-x", 1, "1"), -ENOENT);
    expect_none(b, 0);
    expect_none(b, 1);

    /* The last member leaves: nobody is left to tell. */
    assert_int_equal(leave(r, 7, "presence-x", 1, "2"), 1);
    expect_none(b, 0);
    expect_none(b, 1);
    assert_int_equal(subs_of(r, 7, "presence-x"), -ENOENT);

    pg_registry_destroy(r);
    pg_bus_destroy(b);
}

static void test_presence_broadcast_order(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(2, (size_t)1 << 30);
    struct pg_registry *r = pg_registry_create(2, b);
    /* Everything on worker 0, never drained in between: the inbox keeps the roster's order. */
    join(r, 7, "presence-x", 0, "1.1", "1", "{\"name\":\"a\"}", -1, NULL);
    join(r, 7, "presence-x", 0, "2.2", "2", NULL, -1, NULL);
    leave(r, 7, "presence-x", 0, "1");
    struct pg_bus_item *l = pg_bus_take(b, 0), *it = l;
    const char *want[] = {ADDED1, ADDED2, REMOVED1};
    const char *exc[] = {"1.1", "2.2", ""};
    for (int i = 0; i < 3; i++, it = it->next) {
        assert_non_null(it);
        assert_int_equal(it->msg->len, strlen(want[i]));
        assert_memory_equal(pg_msg_data(it->msg), want[i], it->msg->len);
        assert_string_equal(it->except, exc[i]);
    }
    assert_null(it);
    while (l) {
        struct pg_bus_item *next = l->next;
        pg_bus_item_free(l);
        l = next;
    }
    expect_none(b, 1);
    leave(r, 7, "presence-x", 0, "2");
    expect_none(b, 0);
    pg_registry_destroy(r);
    pg_bus_destroy(b);
}

static void test_presence_broadcast_every_worker(void **state)
{
    (void)state;
    enum { NW = 5 };
    struct pg_bus *b = pg_bus_create(NW, (size_t)1 << 30);
    struct pg_registry *r = pg_registry_create(NW, b);
    /* User 2 with tabs on workers 0, 2 and 3: one member_added (to worker 0, the only one in the
     * mask at the time), none for the other tabs. */
    assert_int_equal(join(r, 7, "presence-x", 0, "0.0", "2", NULL, -1, NULL), 1);
    assert_int_equal(join(r, 7, "presence-x", 2, "0.2", "2", NULL, -1, NULL), 0);
    assert_int_equal(join(r, 7, "presence-x", 3, "0.3", "2", NULL, -1, NULL), 0);
    expect_one(b, 0, 7, ADDED2, "0.0");
    for (unsigned w = 0; w < NW; w++)
        expect_none(b, w);
    assert_int_equal(mask_of(r, 7, "presence-x"), 0xD);

    /* A new user on worker 1 (not yet in the mask): every worker in the new mask gets one item,
     * each with its own copy. */
    assert_int_equal(join(r, 7, "presence-x", 1, "9.9", "1", "{\"name\":\"a\"}", -1, NULL), 1);
    assert_int_equal(mask_of(r, 7, "presence-x"), 0xF);
    struct pg_msg *seen[4];
    for (unsigned w = 0; w < 4; w++) {
        struct pg_bus_item *it = pg_bus_take(b, w);
        assert_non_null(it);
        assert_null(it->next);
        assert_string_equal(it->except, "9.9");
        assert_int_equal(it->msg->refs, 1);
        assert_int_equal(it->msg->len, strlen(ADDED1));
        assert_memory_equal(pg_msg_data(it->msg), ADDED1, it->msg->len);
        seen[w] = pg_msg_ref(it->msg);
        for (unsigned j = 0; j < w; j++)
            assert_ptr_not_equal(seen[j], seen[w]);
        pg_bus_item_free(it);
    }
    for (unsigned w = 0; w < 4; w++)
        pg_msg_unref(seen[w]);
    expect_none(b, 4);

    /* member_removed from worker 1 (its last subscriber leaves): the other three workers. */
    assert_int_equal(leave(r, 7, "presence-x", 1, "1"), 1);
    assert_int_equal(mask_of(r, 7, "presence-x"), 0xD);
    expect_one(b, 0, 7, REMOVED1, "");
    expect_none(b, 1);
    expect_one(b, 2, 7, REMOVED1, "");
    expect_one(b, 3, 7, REMOVED1, "");
    expect_none(b, 4);

    leave(r, 7, "presence-x", 0, "2");
    leave(r, 7, "presence-x", 2, "2");
    leave(r, 7, "presence-x", 3, "2"); /* user 2's last tab: nobody left to tell */
    for (unsigned w = 0; w < NW; w++)
        expect_none(b, w);
    pg_registry_destroy(r);
    pg_bus_destroy(b);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_presence_tabs),
        cmocka_unit_test(test_presence_roster_text),
        cmocka_unit_test(test_presence_max_members),
        cmocka_unit_test(test_presence_users),
        cmocka_unit_test(test_presence_broadcasts),
        cmocka_unit_test(test_presence_broadcast_order),
        cmocka_unit_test(test_presence_broadcast_every_worker),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
