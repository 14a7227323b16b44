#ifndef CZSTD_H
#define CZSTD_H
#include <stddef.h>
#include <stdint.h>
/// Streaming zstd decompression (libzstd) for `perf record -z` files: one stream for a
/// whole file, as perf uses it, fed one PERF_RECORD_COMPRESSED payload at a time.
typedef struct czs_stream czs_stream;
czs_stream *czs_create(void);
void czs_free(czs_stream *s);
/// Decompresses `in` (all of it), appending to *out (malloc'd, grown as needed; *out_len
/// bytes used, *out_cap allocated). Stops with -2 when the output would pass `limit`.
/// Returns 0, or -1 with a message in *error (libzstd's, static).
int czs_decompress(czs_stream *s, const void *in, size_t in_len, uint8_t **out, size_t *out_len, size_t *out_cap,
                   size_t limit, const char **error);
#endif
