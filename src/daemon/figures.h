/* src/daemon/figures.h: the daemon's figures for people and collectors:
 * status as JSON and as text, and the metrics file. */
#pragma once

#include "daemon/daemon.h"

char *status_json(struct daemon *d);
char *status_text(struct daemon *d);
void write_metrics(struct daemon *d);
