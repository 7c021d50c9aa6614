/* tests/fuzz/fuzz_decode.c: libFuzzer target for syn_decode.
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -Irules -Infq \
 *     tests/fuzz/fuzz_decode.c nfq/decode.c -o fuzz_decode
 * ./fuzz_decode -max_total_time=60 tests/fuzz/corpus/decode */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct syn_info s, before;
        int r;

        /* the fixed header alone: the source it names is the header's */
        memset(&s, 0x5a, sizeof(s));
        before = s;
        r = syn_decode_network(data, size, &s);
        if (r != DECODE_OK && memcmp(&s, &before, sizeof(s)) != 0)
                abort();
        if (r == DECODE_OK && (s.family == AF_INET ? size < 20 || memcmp(s.src, data + 12, 4) != 0
                                                   : size < 40 || memcmp(s.src, data + 8, 16) != 0))
                abort();

        memset(&s, 0x5a, sizeof(s));
        before = s;
        r = syn_decode(data, size, &s);
        if (r != DECODE_OK) {
                /* errors are one of the declared codes and leave *ret alone */
                if (r != DECODE_TRUNCATED && r != DECODE_MALFORMED && r != DECODE_NOT_TCP)
                        abort();
                if (memcmp(&s, &before, sizeof(s)) != 0)
                        abort();
                if (decode_strerror(r) == NULL)
                        abort();
                return 0;
        }
        if (s.family == AF_INET) {
                /* version 4, a full IP header and 20 bytes of TCP */
                if (size < 40 || (data[0] >> 4) != 4 || data[9] != 6)
                        abort();
                if (memcmp(s.src, data + 12, 4) != 0 || memcmp(s.dst, data + 16, 4) != 0)
                        abort();
                if (s.ttl != data[8])
                        abort();
        } else if (s.family == AF_INET6) {
                if (size < 60 || (data[0] >> 4) != 6)
                        abort();
                if (memcmp(s.src, data + 8, 16) != 0 || memcmp(s.dst, data + 24, 16) != 0)
                        abort();
                if (s.ttl != data[7])
                        abort();
        } else {
                abort();
        }
        return 0;
}
