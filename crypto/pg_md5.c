/* pg_md5.c - MD5 through OpenSSL EVP (libsodium has no MD5; MD5() is deprecated in 3.0).
 * Thread: any (pure).
 */
#include "pg_md5.h"
#include "pg_hex.h"

#include <openssl/evp.h>

void pg_md5_hex(const void *p, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    /* Only fails on allocation failure inside OpenSSL; an empty digest then never matches. */
    if (EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16) {
        out[0] = '\0';
        return;
    }
    pg_hex_encode(md, mdlen, out);
}
