/* src/seal.h: forward-secure sealing of the audit log (tamper evidence).
 *
 * Every line a writer appends carries a MAC, chained over the MAC of the
 * line before it, keyed with a key that evolves once per epoch (one-way:
 * key[e+1] = KDF(key[e])) and whose old value is erased from memory and from
 * the key file. Whoever takes the host later holds only the current epoch's
 * key and cannot rewrite what was sealed before. The security team keeps
 * the verification key (the seed of key[0]) off the host.
 *
 * A sealed line: the record as built by jline, with one last field:
 *     {"ts":...,"event":...,...,"seal":"S:E:N:MAC"}
 * S the stream (d: mxlockd, s: mxlock sync), E the epoch, N the record's
 * index in its stream (never reset), MAC 32 hex digits: Poly1305 over (N,
 * MAC of record N-1, the line up to ,"seal") with a one-time key from the
 * stream's key of epoch E (see seal.c). Each time a writer opens a file it
 * first writes a seal record ("anchor"), {"ts":...,"event":"seal",
 * "reason":...,"prev":"MAC of record N-1","run":"writer run id","seal":...},
 * so that a file can be checked on its own and the chain across files
 * (rotation, gzip) shows a deleted file or a truncated tail. docs/operations.md
 * ("Tamper evidence") lists what it does not find. libsodium does the
 * cryptography. */
#ifndef MXLOCK_SEAL_H
#define MXLOCK_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SEAL_KEY_BYTES 32
#define SEAL_MAC_BYTES 16
#define SEAL_SUFFIX_MAX 96      /* ,"seal":"S:E:N:MAC"}\n and the NUL */
#define SEAL_VKEY_MAX 128       /* the verification key as text */
#define SEAL_DEFAULT_INTERVAL 900       /* seconds per epoch (journald's default) */
#define SEAL_MIN_INTERVAL 60
#define SEAL_STREAM_DAEMON 'd'
#define SEAL_STREAM_SYNC 's'

struct seal;

/* Create a new key: a random seed; the key files for both streams
 * (path for mxlockd, path.sync for mxlock sync) at epoch 0, mode 0600,
 * owned by uid/gid unless they are -1; an existing file is refused
 * (-EEXIST) unless force. vkey receives the verification key. Returns 0
 * or negative errno. */
int seal_setup(const char *path, uint64_t interval, time_t now, uid_t uid, gid_t gid, bool force,
               char vkey[SEAL_VKEY_MAX]);

/* Load a writer's key file (its stream is in the file). Returns 0 or
 * negative errno (-EBADMSG: not a key file; *line says where). */
int seal_open(const char *path, struct seal **ret, int *ret_line);

/* Continue the chain after the last sealed line of this stream in buf (the
 * tail of the live log): a writer that stopped without saving its state
 * (a crash) resumes where its last record ends. Returns 1 when it moved on,
 * 0 when the key file's state was already as far. */
int seal_resume(struct seal *s, const char *buf, size_t len);

/* Whether now is past the key's epoch (seal_advance would evolve it). */
bool seal_due(const struct seal *s, time_t now);

/* Evolve the key to the epoch of now (never backwards), erase the old one
 * and rewrite the key file (atomically, fsync'd). Returns 1 when the epoch
 * changed, 0 when not, negative errno when the file could not be written
 * (the key in memory has evolved anyway). */
int seal_advance(struct seal *s, time_t now);

/* Seal one line body (the record without its closing "}\n"): write the
 * suffix ,"seal":"..."}\n into suffix and return its length. */
size_t seal_line(struct seal *s, const char *body, size_t len, char suffix[SEAL_SUFFIX_MAX]);

/* Bookkeeping for lines the writer could not write (disk full): they were
 * sealed, so they leave a gap in the chain, which the next seal record
 * declares ("lost":N) and continues from the last line that did reach the
 * file. seal_written: every line sealed so far is in the file. seal_lost:
 * the last n sealed lines are not; written/len is the part of the failed
 * write that is. seal_pending_lost: lost lines no seal record declared yet
 * (one is in a buffer not yet written). */
void seal_written(struct seal *s);
void seal_lost(struct seal *s, uint64_t n, const char *written, size_t len);
uint64_t seal_pending_lost(const struct seal *s);

/* The MAC of the last sealed line, as 32 hex digits and a NUL. */
void seal_prev_hex(const struct seal *s, char hex[2 * SEAL_MAC_BYTES + 1]);
/* This writer run's id (a seal record names it), 16 hex digits and a NUL. */
void seal_run_hex(const struct seal *s, char hex[17]);

/* Write the chain state to the key file (atomically). Returns 0 or -errno. */
int seal_save(struct seal *s);

/* Save the state, erase the key from memory and free. Accepts NULL. */
void seal_close(struct seal *s);

/* ---- verification ---- */

/* Why a check failed; the first failure stops it. */
struct seal_failure {
        size_t file;            /* index into the files given */
        uint64_t line;          /* 1-based */
        char why[256];
};

struct seal_verify_stats {
        uint64_t lines;         /* lines read */
        uint64_t sealed;        /* lines whose seal verified */
        uint64_t unsealed_before; /* records before sealing began (not covered) */
        uint64_t anchors;
        uint64_t lost;          /* records the writer reported lost (disk full) */
        uint64_t last_epoch_start; /* mxlockd's last record: its epoch began then */
        bool ended_stop;        /* ... and it was a clean end (mxlockd stopped) */
};

/* Check the chain through files (oldest first; plain or gzip). Returns 0
 * when it holds, 1 with *fail filled in when it does not, negative errno
 * when a file cannot be read (fail->file says which) or -EINVAL when vkey
 * is not a verification key. */
int seal_verify(const char *vkey, const char *const *files, size_t nfiles, struct seal_failure *fail,
                struct seal_verify_stats *stats);

#endif
