/* tests/unit/test_figures.c: one snapshot of the daemon's figures
 * (src/daemon/figures.c) rendered three ways: status JSON, status text and
 * the metrics file say the same counts. */
#include "daemon_fixture.h"

static void test_three_renderings_of_one_snapshot(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct figures f;
        struct fx_pkt p;
        char *json, *text, *prom, path[192];
        FILE *fp;
        long n;

        fx_syn4(&p, "192.0.2.66", 40312, 25);
        for (int i = 0; i < 7; i++)
                fx_queue(d, &p, ruleset_queue_mark(0, false));
        d->acct.pstats[0].missed = 2;
        assert_int_equal(figures_take(d, false, &f), 0);
        assert_int_equal(f.refused, 7);
        assert_int_equal(f.npolicies, 1);

        json = figures_status_json(&f);
        assert_non_null(json);
        assert_non_null(strstr(json, "\"enabled\":true,\"mode\":\"enforce\",\"action\":\"reject\","
                                     "\"failure\":\"closed\",\"table\":\"mxlock\""));
        assert_non_null(strstr(json, "\"refused\":7,\"observed\":0,\"undecodable\":0,"));
        assert_non_null(strstr(json, "\"name\":\"inbound\",\"direction\":\"inbound\",\"ports\":[25],\"providers\":[\"gw\"],"
                                     "\"allow_v4\":1,\"allow_v6\":1,\"deny_v4\":1,\"deny_v6\":0,"
                                     "\"refused\":7,\"observed\":0,\"folded\":4,\"missed\":2}"));
        assert_non_null(strstr(json, "\"last_reload\":null"));

        text = figures_status_text(&f);
        assert_non_null(text);
        assert_non_null(strstr(text, "state:    enforcing\n"));
        assert_non_null(strstr(text, "mode:     enforce, action reject, failure closed\n"));
        assert_non_null(strstr(text, "inbound policy inbound: ports 25; providers gw\n"
                                     "  allowed ranges: 1 IPv4, 1 IPv6; denied: 1 IPv4, 0 IPv6\n"
                                     "  attempts: 7 refused, 0 observed, 2 missed (4 folded into summaries)\n"));
        assert_non_null(strstr(text, "reload:   none since start\n"));

        snprintf(path, sizeof(path), "%s/mxlock.prom", fx_dir);
        assert_int_equal(figures_metrics(&f, path), 0);
        fp = fopen(path, "r");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        prom = calloc(1, (size_t)n + 1);
        assert_int_equal(fread(prom, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        assert_non_null(strstr(prom, "\nmxlock_up 1\n"));
        assert_non_null(strstr(prom, "mxlock_attempts_total{policy=\"inbound\",direction=\"inbound\",outcome=\"refused\"} 7\n"));
        assert_non_null(strstr(prom, "mxlock_attempts_total{policy=\"inbound\",direction=\"inbound\",outcome=\"missed\"} 2\n"));
        assert_non_null(strstr(prom, "mxlock_set_ranges{policy=\"inbound\",direction=\"inbound\",list=\"allow\",family=\"ipv4\"} 1\n"));

        free(json);
        free(text);
        free(prom);
        figures_release(&f);
        fx_free(d);
}

/* Read the metrics file the snapshot wrote. */
static char *read_metrics(const struct figures *f)
{
        char path[192], *prom;
        FILE *fp;
        long n;

        snprintf(path, sizeof(path), "%s/mxlock.prom", fx_dir);
        assert_int_equal(figures_metrics(f, path), 0);
        fp = fopen(path, "r");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        prom = calloc(1, (size_t)n + 1);
        assert_int_equal(fread(prom, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        return prom;
}

/* An [outbound] section beside the inbound policy: each says its
 * direction in the three renderings, and the totals split by direction. */
static void test_outbound_direction(void **state)
{
        struct daemon *d = fx_daemon_conf("enforce", "\n[outbound smarthost]\nports = 25, 465, 587\n"
                                                     "to = 192.0.2.25\nusers = root\n");
        struct figures f;
        struct fx_pkt p;
        char *json, *text, *prom;

        (void) state;
        fx_syn4(&p, "192.0.2.66", 40312, 25);
        for (int i = 0; i < 3; i++)
                fx_queue(d, &p, ruleset_queue_mark(0, false));
        fx_syn4(&p, "192.0.2.77", 40313, 587);
        for (int i = 0; i < 2; i++)
                fx_queue(d, &p, ruleset_queue_mark(1, false));
        assert_int_equal(figures_take(d, false, &f), 0);
        assert_int_equal(f.npolicies, 2);
        assert_int_equal(f.refused, 5);
        assert_int_equal(f.out_refused, 2);

        json = figures_status_json(&f);
        assert_non_null(json);
        assert_non_null(strstr(json, "\"refused\":5,\"observed\":0,"));
        assert_non_null(strstr(json, "\"by_direction\":{\"inbound\":{\"refused\":3,\"observed\":0},"
                                     "\"outbound\":{\"refused\":2,\"observed\":0}}"));
        assert_non_null(strstr(json, "{\"name\":\"smarthost\",\"direction\":\"outbound\",\"ports\":[25,465,587],"
                                     "\"users\":[\"root\"],\"uids\":[0],\"providers\":[],\"allow_v4\":1,"));
        assert_non_null(strstr(json, "\"refused\":2,\"observed\":0,\"folded\":0,\"missed\":0}"));

        text = figures_status_text(&f);
        assert_non_null(text);
        assert_non_null(strstr(text, "attempts: 5 refused, 0 observed;"));
        assert_non_null(strstr(text, "\n          inbound 3 refused, 0 observed; outbound 2 refused, 0 observed\n"));
        assert_non_null(strstr(text, "inbound policy inbound: ports 25; providers gw\n"));
        assert_non_null(strstr(text, "outbound policy smarthost: ports 25,465,587; users root\n"
                                     "  allowed destinations: 1 IPv4, 0 IPv6\n"
                                     "  attempts: 2 refused, 0 observed, 0 missed"));

        prom = read_metrics(&f);
        assert_non_null(strstr(prom, "mxlock_attempts_total{policy=\"inbound\",direction=\"inbound\",outcome=\"refused\"} 3\n"));
        assert_non_null(strstr(prom, "mxlock_attempts_total{policy=\"smarthost\",direction=\"outbound\",outcome=\"refused\"} 2\n"));
        assert_non_null(strstr(prom, "mxlock_set_ranges{policy=\"smarthost\",direction=\"outbound\",list=\"allow\",family=\"ipv4\"} 1\n"));

        free(json);
        free(text);
        free(prom);
        figures_release(&f);
        fx_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_three_renderings_of_one_snapshot),
                cmocka_unit_test(test_outbound_direction),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
