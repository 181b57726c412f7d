/* fuzz_cluster_msg.c - gateway/pg_cluster_msg: node-to-node messages read from Redis pub/sub
 * (design.md section 8). Decoding is strict, so every message that decodes must encode back to
 * exactly its input bytes. The input is also cut into fields for the encoder: whatever encodes
 * must decode to the same fields.
 */
#include <errno.h>

#include "fuzz.h"
#include "pg_cluster_msg.h"

static bool inside(const char *p, size_t n, const uint8_t *data, size_t size)
{
    return !n || (p >= (const char *)data && p + n <= (const char *)data + size);
}

static void decode(const uint8_t *data, size_t size)
{
    struct pg_cluster_msg m;
    size_t len;
    int rc = pg_cluster_msg_decode(&m, (const char *)data, size);

    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT);
    if (rc < 0)
        return;
    bool framed = m.kind == PG_CLUSTER_EVENT || m.kind == PG_CLUSTER_ANNOUNCE;
    FUZZ_CHECK(framed || m.kind == PG_CLUSTER_TERMINATE || m.kind == PG_CLUSTER_RESYNC);
    FUZZ_CHECK(m.alen >= 1 && m.alen <= PG_CLUSTER_APP_MAX && m.elen <= PG_CLUSTER_EXCEPT_MAX);
    FUZZ_CHECK(m.clen <= PG_CLUSTER_CHANNEL_MAX && (m.elen == 0) == (m.except == NULL));
    FUZZ_CHECK(framed ? m.flen >= 1 : m.flen == 0 && m.elen == 0);
    FUZZ_CHECK(m.kind != PG_CLUSTER_RESYNC || m.clen == 0);
    FUZZ_CHECK(inside(m.app, m.alen, data, size) && inside(m.except, m.elen, data, size));
    FUZZ_CHECK(inside(m.channel, m.clen, data, size) && inside(m.frame, m.flen, data, size));

    size_t need = pg_cluster_msg_size(&m);
    char *out = malloc(need);
    FUZZ_CHECK(out && need == size);
    FUZZ_CHECK(pg_cluster_msg_encode(&m, out, need, &len) == 0);
    FUZZ_CHECK(len == size && memcmp(out, data, size) == 0);
    free(out);
}

/* Bytes 0-7: origin; 8: kind; 9-10: app length; 11: except length; 12-13: channel length; then
 * app, except, channel and the frame (the rest), each cut short when the input ends. */
static void encode(const uint8_t *data, size_t size)
{
    struct pg_cluster_msg m = {0}, d;
    size_t off = 14, len;
    uint64_t origin = 0;

    if (size < off)
        return;
    for (int i = 0; i < 8; i++)
        origin = origin << 8 | data[i];
    m.origin = origin;
    m.kind = (enum pg_cluster_kind)(data[8] % 6); /* 0 and 5: no such kind */
    size_t want[3] = {(size_t)data[9] << 8 | data[10], data[11], (size_t)data[12] << 8 | data[13]};
    const char *field[3];
    for (int i = 0; i < 3; i++) {
        field[i] = (const char *)data + off;
        want[i] = want[i] < size - off ? want[i] : size - off;
        off += want[i];
    }
    m.app = field[0];
    m.alen = want[0];
    m.except = want[1] ? field[1] : NULL;
    m.elen = want[1];
    m.channel = field[2];
    m.clen = want[2];
    m.frame = (const char *)data + off;
    m.flen = size - off;

    size_t need = pg_cluster_msg_size(&m);
    char *out = malloc(need);
    FUZZ_CHECK(out);
    int rc = pg_cluster_msg_encode(&m, out, need, &len);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(len == need && len - m.flen <= PG_CLUSTER_HEADER_MAX + m.alen + m.elen + m.clen);
        FUZZ_CHECK(pg_cluster_msg_encode(&m, out, need - 1, &len) == -ENOBUFS);
        FUZZ_CHECK(pg_cluster_msg_decode(&d, out, need) == 0);
        FUZZ_CHECK(d.origin == m.origin && d.kind == m.kind);
        FUZZ_CHECK(d.alen == m.alen && !memcmp(d.app, m.app, m.alen));
        FUZZ_CHECK(d.elen == m.elen && (!m.elen || !memcmp(d.except, m.except, m.elen)));
        FUZZ_CHECK(d.clen == m.clen && (!m.clen || !memcmp(d.channel, m.channel, m.clen)));
        FUZZ_CHECK(d.flen == m.flen && (!m.flen || !memcmp(d.frame, m.frame, m.flen)));
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size);
    encode(data, size);
    pg_cluster_kind_name((enum pg_cluster_kind)(size % 6));
    return 0;
}
