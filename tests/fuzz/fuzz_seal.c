/* tests/fuzz/fuzz_seal.c: arbitrary bytes through `mxlock verify`'s reader.
 * The input is a verification key, a newline, then a log (plain or gzip);
 * the seed corpus holds real sealed logs with their keys (made by
 * mxlockd's writer), so mutations reach the chain checks. The verifier
 * must return 0, 1 or an error without reading out of bounds or looping. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nl = memchr(data, '\n', size < SEAL_VKEY_MAX ? size : SEAL_VKEY_MAX);
        struct seal_verify_stats st;
        struct seal_failure f;
        char vkey[SEAL_VKEY_MAX], path[64];
        const char *files[2];
        size_t klen, off = 0;
        int fd;

        if (!nl)
                return 0;
        klen = (size_t)(nl - data);
        memcpy(vkey, data, klen);
        vkey[klen] = '\0';
        fd = memfd_create("fuzz-seal", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        while (off < size - klen - 1) {
                ssize_t w = write(fd, nl + 1 + off, size - klen - 1 - off);

                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        /* the same file twice: the chain from one file to the next */
        files[0] = path;
        files[1] = path;
        (void) seal_verify(vkey, files, 2, &f, &st);
        close(fd);
        return 0;
}
