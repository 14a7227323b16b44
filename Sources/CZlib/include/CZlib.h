#ifndef CZLIB_H
#define CZLIB_H
#include <stddef.h>
#include <stdint.h>
/// gzip (RFC 1952) compression of one buffer with zlib's deflate: pprof reads
/// profile.proto gzipped. On success *out is malloc'd (*out_len bytes; the caller
/// frees it) and 0 is returned; otherwise -1 with zlib's message in *error (static).
int czl_gzip(const uint8_t *in, size_t in_len, int level, uint8_t **out, size_t *out_len, const char **error);
#endif
