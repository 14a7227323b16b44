#include <stdlib.h>
#include <zstd.h>
#include "CZstd.h"

struct czs_stream { ZSTD_DStream *d; };

czs_stream *czs_create(void) {
    czs_stream *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->d = ZSTD_createDStream();
    if (!s->d) { free(s); return NULL; }
    ZSTD_initDStream(s->d);
    return s;
}

void czs_free(czs_stream *s) {
    if (!s) return;
    ZSTD_freeDStream(s->d);
    free(s);
}

int czs_decompress(czs_stream *s, const void *in, size_t in_len, uint8_t **out, size_t *out_len, size_t *out_cap,
                   size_t limit, const char **error) {
    ZSTD_inBuffer input = { in, in_len, 0 };
    while (input.pos < input.size) {
        if (*out_cap - *out_len < ZSTD_DStreamOutSize()) {
            size_t cap = *out_cap ? *out_cap * 2 : (1u << 20);
            while (cap - *out_len < ZSTD_DStreamOutSize()) cap *= 2;
            if (cap > limit + ZSTD_DStreamOutSize()) { if (*out_len >= limit) return -2; cap = limit + ZSTD_DStreamOutSize(); }
            uint8_t *grown = realloc(*out, cap);
            if (!grown) { *error = "out of memory"; return -1; }
            *out = grown;
            *out_cap = cap;
        }
        ZSTD_outBuffer output = { *out + *out_len, *out_cap - *out_len, 0 };
        size_t rc = ZSTD_decompressStream(s->d, &output, &input);
        if (ZSTD_isError(rc)) { *error = ZSTD_getErrorName(rc); return -1; }
        *out_len += output.pos;
        if (*out_len > limit) return -2;
        if (output.pos == 0 && rc != 0 && input.pos == input.size) break;
    }
    return 0;
}
