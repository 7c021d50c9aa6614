/* tests/fuzz/fuzz_config.c: libFuzzer target for the mxlock.conf parser.
 * Each input is written to a file and loaded; the parser must never crash,
 * leak or read out of bounds, whatever it is given.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE
 *        -Isrc -Irules -Infq tests/fuzz/fuzz_config.c src/config.c -o /tmp/fuzz_config */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_warn(const char *file, int line, const char *msg, void *userdata)
{
        size_t *n = userdata;

        /* touch the arguments so that ASan sees a bad pointer */
        *n += strlen(file) + strlen(msg) + (size_t)(line > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char path[64], err[CONFIG_ERRLEN];
        struct config *c = NULL;
        size_t warned = 0;
        ssize_t w;
        int fd, r;

        snprintf(path, sizeof(path), "/tmp/fuzz_config.%ld.conf", (long)getpid());
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return 0;
        w = size ? write(fd, data, size) : 0;
        close(fd);
        if (w != (ssize_t)size)
                return 0;

        r = config_load(path, &c, err, fuzz_warn, &warned);
        if (r == 0) {
                /* walk what came back */
                for (size_t i = 0; i < c->npolicies; i++) {
                        const struct cfg_policy *p = &c->policies[i];

                        for (size_t j = 1; j < p->nports; j++)
                                if (p->ports[j - 1] >= p->ports[j])
                                        __builtin_trap();       /* must be sorted, unique */
                        if (p->nports == 0 || (p->providers.n == 0 && p->allow.n == 0))
                                __builtin_trap();
                        for (size_t j = 0; j < p->allow.n; j++)
                                warned += strlen(p->allow.v[j].text);
                }
                if ((unsigned)c->queue + c->queues - 1 > 65535)
                        __builtin_trap();
                config_free(c);
        } else if (strnlen(err, CONFIG_ERRLEN) == CONFIG_ERRLEN || err[0] == '\0') {
                __builtin_trap();       /* an error always comes with a message */
        }
        (void)unlink(path);
        return 0;
}
