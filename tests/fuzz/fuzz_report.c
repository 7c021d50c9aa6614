/* tests/fuzz/fuzz_report.c: arbitrary bytes as audit lines. The line parser
 * must reject or accept without reading out of bounds; the aggregation and
 * every output format must cope with whatever it accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static FILE *devnull;
        struct report_record rec;
        struct report *r = NULL;
        char *copy, *line, *nl;
        int64_t t;
        size_t left;

        if (!devnull)
                devnull = fopen("/dev/null", "we");
        /* exactly size bytes, no terminator: overreads show up under ASan */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        (void) report_parse_line(copy, size, &rec);
        free(copy);

        /* the same bytes as a time argument */
        copy = strndup((const char *)data, size);
        if (copy) {
                (void) report_parse_time(copy, 0, &t);
                free(copy);
        }

        /* the bytes as a log (one or more lines) through the aggregator and the formats */
        if (report_new(NULL, &r) < 0)
                return 0;
        copy = malloc(size ? size : 1);
        if (!copy)
                goto out;
        memcpy(copy, data, size);
        line = copy;
        left = size;
        while (left > 0) {
                size_t n;

                nl = memchr(line, '\n', left);
                n = nl ? (size_t)(nl - line) : left;
                (void) report_add_line(r, line, n);
                if (!nl)
                        break;
                left -= n + 1;
                line = nl + 1;
        }
        free(copy);
        if (devnull)
                (void) report_write(r, (enum report_format)(size ? data[0] % 4 : 0), devnull);
out:
        report_free(r);
        return 0;
}
