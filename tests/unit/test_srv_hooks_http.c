/* test_srv_hooks_http.c - webhooks (srv_hook_http.c): the real pg-hook thread against a small
 * HTTP listener on 127.0.0.1 that answers 503 twice, then 200; and stop with a receiver that
 * never answers well. The engine on a fake transport is in test_srv_hooks.c.
 */
#include "test_srv_hooks_util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pg_clock.h"
#include "pg_hook_sign.h"

static char *hdr_names[] = {"X-Custom", "content-type"}; /* the second is reserved: ignored */
static char *hdr_values[] = {"yes", "text/plain"};

/* ---- the real thread against a local HTTP listener ------------------------------------------- */

#define MAX_REQS 16
struct listener {
    int fd;
    int port;
    int fail_first; /* answer 503 to this many requests */
    pthread_mutex_t lock;
    int n;
    char *head[MAX_REQS];
    char *body[MAX_REQS];
};

static const char *header_value(const char *head, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, n, "%.*s", (int)len, v);
            return out;
        }
    }
    return NULL;
}

static void *listener_run(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        int c = accept(l->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[8192];
        size_t len = 0;
        buf[0] = 0;
        char *end = NULL;
        ssize_t r;
        while (!(end = strstr(buf, "\r\n\r\n")) && len < sizeof buf - 1 &&
               (r = read(c, buf + len, sizeof buf - 1 - len)) > 0) {
            len += (size_t)r;
            buf[len] = 0;
        }
        if (!end) {
            close(c);
            continue;
        }
        char cl[32];
        size_t hlen = (size_t)(end - buf) + 4;
        size_t blen =
            header_value(buf, "Content-Length", cl, sizeof cl) ? strtoul(cl, NULL, 10) : 0;
        while (len < hlen + blen && len < sizeof buf - 1 &&
               (r = read(c, buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)r;
        pthread_mutex_lock(&l->lock);
        int i = l->n < MAX_REQS ? l->n++ : -1;
        if (i >= 0) {
            l->head[i] = strndup(buf, hlen);
            l->body[i] = strndup(buf + hlen, blen);
        }
        bool fail = i >= 0 && i < l->fail_first;
        pthread_mutex_unlock(&l->lock);
        const char *resp =
            fail ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n"
                 : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        ssize_t wr = write(c, resp, strlen(resp));
        (void)wr;
        close(c);
    }
}

static int requests(struct listener *l)
{
    pthread_mutex_lock(&l->lock);
    int n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static void wait_for(struct listener *l, int n)
{
    for (int i = 0; i < 500 && requests(l) < n; i++)
        usleep(10000);
    assert_true(requests(l) >= n);
}

static void test_http_retries_in_order(void **state)
{
    (void)state;
    struct listener l = {.fail_first = 2};
    pthread_mutex_init(&l.lock, NULL);
    l.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof sa;
    assert_int_equal(bind(l.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l.fd, 16), 0);
    getsockname(l.fd, (struct sockaddr *)&sa, &slen);
    l.port = ntohs(sa.sin_port);
    pthread_t thr;
    pthread_create(&thr, NULL, listener_run, &l);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", l.port);
    struct pg_webhook w = {
        .url = url, .header_names = hdr_names, .header_values = hdr_values, .n_headers = 2};
    struct pg_app app;
    struct pg_config cfg;
    app_init(&app, 0, "real-secret", &w, 1);
    cfg_init(&cfg, &app, 1);
    cfg.webhook_batch_ms = 20;
    cfg.webhook_retry_min_ms = 50;
    cfg.webhook_retry_max_ms = 200;
    cfg.webhook_timeout_ms = 3000;
    char err[128];
    struct pg_hooks *h = pg_hooks_create(&cfg, err, sizeof err);
    assert_non_null(h);
    assert_int_equal(pg_hooks_start(h), 0);

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "c1");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "c2");
    wait_for(&l, 1);
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "c3"); /* while the first batch is being retried */
    wait_for(&l, 4);
    pg_hooks_stop(h, pg_now_ms() + 2000);
    struct pg_hooks_stats st;
    pg_hooks_get_stats(h, &st);
    pg_hooks_destroy(h);
    shutdown(l.fd, SHUT_RDWR);
    close(l.fd);
    pthread_join(thr, NULL);

    assert_int_equal(l.n, 4);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped, 0);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(l.body[i], l.body[0]); /* retries resend the same bytes */
        assert_non_null(strstr(l.body[i], "{\"name\":\"channel_occupied\",\"channel\":\"c1\"},{"
                                          "\"name\":\"channel_occupied\",\"channel\":\"c2\"}]}"));
    }
    assert_non_null(strstr(l.body[3], "[{\"name\":\"channel_occupied\",\"channel\":\"c3\"}]}"));
    for (int i = 0; i < 4; i++) {
        char v[128], sig[65];
        assert_int_equal(strncmp(l.head[i], "POST /hook HTTP/1.1\r\n", 21), 0);
        assert_string_equal(header_value(l.head[i], "Content-Type", v, sizeof v),
                            "application/json");
        assert_string_equal(header_value(l.head[i], "X-Pusher-Key", v, sizeof v), "key-0");
        pg_hook_sign(S("real-secret"), l.body[i], strlen(l.body[i]), sig);
        assert_string_equal(header_value(l.head[i], "X-Pusher-Signature", v, sizeof v), sig);
        assert_string_equal(header_value(l.head[i], "X-Custom", v, sizeof v), "yes");
        assert_null(header_value(l.head[i], "Expect", v, sizeof v));
        free(l.head[i]);
        free(l.body[i]);
    }
    pthread_mutex_destroy(&l.lock);
}

/* stop with a receiver that never answers well: gives up at the deadline and counts it */
static void test_http_stop_deadline(void **state)
{
    (void)state;
    /* a port nobody listens on: bound, then closed */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &slen);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    struct pg_webhook w = {.url = url};
    struct pg_app app;
    struct pg_config cfg;
    app_init(&app, 0, "s", &w, 1);
    cfg_init(&cfg, &app, 1);
    cfg.webhook_debounce_ms = 3000;
    cfg.webhook_retry_min_ms = 10000;
    char err[128];
    struct pg_hooks *h = pg_hooks_create(&cfg, err, sizeof err);
    assert_non_null(h);
    assert_int_equal(pg_hooks_start(h), 0);
    emit(h, 0, PG_HOOK_CHANNEL_VACATED, "v");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "o");
    usleep(100000);
    int64_t t0 = pg_now_ms();
    pg_hooks_stop(h, t0 + 300);
    int64_t took = pg_now_ms() - t0;
    assert_true(took >= 250 && took < 2000);
    struct pg_hooks_stats st;
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.sent, 0);
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "after-stop"); /* refused, counted */
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.dropped, 3);
    pg_hooks_destroy(h);
    pg_hooks_destroy(NULL);
    pg_hooks_stop(NULL, 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_http_retries_in_order),
        cmocka_unit_test(test_http_stop_deadline),
    };
    int rc = cmocka_run_group_tests(t, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
