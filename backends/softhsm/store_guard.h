/*
 * Last-good copies of SoftHSM 2.6.1's object files, so that a process
 * killed while SoftHSM rewrites one does not lose the token or the object.
 *
 * SoftHSM rewrites an object file in place: it truncates the file, then
 * writes it again through stdio (ObjectFile::store). A kill -9 between the
 * two leaves the file empty or short. An empty token.object makes SoftHSM
 * drop the whole token; a short <uuid>.object makes it drop that object.
 *
 * Next to each object file NAME the guard keeps .NAME.hsmux-good, written
 * atomically and only from a version that parses completely. SoftHSM
 * indexes only names that end in ".object" (OSToken::index), and the
 * backup snapshot skips names that start with a dot, so both ignore the
 * copies. SoftHSM's own token deletion (OSToken::clearToken) removes every
 * file of the directory, the copies included.
 */
#ifndef HSMUX_SOFTHSM_STORE_GUARD_H
#define HSMUX_SOFTHSM_STORE_GUARD_H

#include <stdbool.h>

/*
 * Repairs the object files of every token directory under tokens; call it
 * before SoftHSM is initialized. The good copy goes back, atomically and
 * with one hsmux_error() line, over each object file that does not parse
 * completely. The good copy of each object file that parses and differs is
 * refreshed. Good copies whose object file is gone are removed, and so are
 * temporary files of an interrupted write. Reads every object file of the
 * store once. Never fails: a file it cannot read or write is traced and
 * left as it is.
 */
void softhsm_guard_check_store(const char *tokens, const char *backend);

/*
 * Refreshes the good copies under tokens from object files that changed
 * since their copy was written: token.object only, or every object file
 * when all_objects is set. Costs two fstatat() calls per file it looks at,
 * and reads only files newer than their copy.
 */
void softhsm_guard_refresh_store(const char *tokens, bool all_objects);

#endif /* HSMUX_SOFTHSM_STORE_GUARD_H */
