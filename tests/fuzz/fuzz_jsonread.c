/* tests/fuzz/fuzz_jsonread.c: arbitrary bytes through the JSON reader of
 * src/json.c. The tree (json_parse) and the streaming walk (json_iter_*,
 * entering every nested value) must agree on whether the text is valid,
 * see the same number of values, and never read outside the input. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* Values under a tree node, the node included. */
static size_t tree_count(const struct json_node *n)
{
        size_t c = 1;

        for (const struct json_node *k = n->child; k; k = k->next) {
                CHECK(n->type == JSON_OBJECT ? k->key != NULL : k->key == NULL);
                c += tree_count(k);
        }
        if (n->type == JSON_STRING)
                CHECK(strlen(n->str) == n->len);
        return c;
}

/* Values inside a walk, entering nested ones; -1 when the walk fails. */
static long walk_count(struct json_iter *it)
{
        struct json_value v;
        const char *key;
        long c = 0, sub;
        int r;

        while ((r = json_iter_next(it, &key, &v)) > 0) {
                c++;
                if (v.type == JSON_OBJECT || v.type == JSON_ARRAY) {
                        struct json_iter in;

                        CHECK(json_iter_enter(&in, &v) == 0);
                        sub = walk_count(&in);
                        CHECK(sub >= 0);        /* validated before it was handed over */
                        c += sub;
                }
        }
        return r < 0 ? -1 : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct json_doc *doc = NULL;
        struct json_iter it;
        char *copy;
        size_t i = 0;
        long walked = -1;
        int r;

        r = json_parse((const char *)data, size, &doc);
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        /* exactly size bytes, no terminator: overreads show up under ASan */
        copy = malloc(size ? size : 1);
        if (!copy) {
                json_free(doc);
                return 0;
        }
        memcpy(copy, data, size);
        while (i < size && (copy[i] == ' ' || copy[i] == '\t' || copy[i] == '\r' || copy[i] == '\n'))
                i++;
        if (i < size && (copy[i] == '{' || copy[i] == '[')) {
                if ((copy[i] == '{' ? json_iter_object : json_iter_array)(&it, copy, size) == 0)
                        walked = walk_count(&it);
                if (r == 0)
                        CHECK(walked >= 0 && (size_t)walked + 1 == tree_count(json_root(doc)));
                else if (r == -EINVAL)
                        CHECK(walked < 0);
        }
        free(copy);
        json_free(doc);
        return 0;
}
