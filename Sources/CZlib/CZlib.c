#include "CZlib.h"
#include <stdlib.h>
#include <zlib.h>

int czl_gzip(const uint8_t *in, size_t in_len, int level, uint8_t **out, size_t *out_len, const char **error) {
    z_stream z = {0};
    *out = NULL;
    *out_len = 0;
    // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        *error = z.msg ? z.msg : "deflateInit2 failed";
        return -1;
    }
    // deflateBound is enough for one Z_FINISH call; zlib takes uInt lengths, so the
    // input is bounded (a profile past 2 GiB is refused, not truncated).
    uLong bound = deflateBound(&z, (uLong)in_len);
    if (in_len > 0x7fffffffu || bound > 0xffffff00u) { deflateEnd(&z); *error = "profile larger than 2 GiB"; return -1; }
    uint8_t *buf = malloc(bound + 64);
    if (!buf) { deflateEnd(&z); *error = "out of memory"; return -1; }
    z.next_out = buf;
    z.avail_out = (uInt)(bound + 64);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    int rc = deflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        *error = z.msg ? z.msg : "deflate did not finish";
        deflateEnd(&z);
        free(buf);
        return -1;
    }
    *out_len = z.total_out;
    *out = buf;
    deflateEnd(&z);
    return 0;
}
