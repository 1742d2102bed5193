/*
 * The hsmux config: an INI file read once at C_Initialize. Each
 * [backend:NAME] section makes one backend.
 */
#ifndef HSMUX_CONFIG_H
#define HSMUX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct hsmux_config_entry {
	char *key;
	char *value;
	unsigned int line;
};

struct hsmux_config_section {
	char *name; /* NAME of [backend:NAME] */
	const char *file; /* borrowed from the config */
	unsigned int line;
	struct hsmux_config_entry *entries;
	size_t n_entries;
};

struct hsmux_config {
	char *path; /* NULL for the built-in default */
	struct hsmux_config_section *sections;
	size_t n_sections;
};

/*
 * Finds the config file ($HSMUX_CONF, then $XDG_CONFIG_HOME/hsmux/hsmux.conf
 * or ~/.config/hsmux/hsmux.conf, then /etc/hsmux/hsmux.conf) and parses it.
 * With no file, *cfg holds the default: one softhsm backend named "soft".
 * On failure it returns CKR_GENERAL_ERROR and writes a one-line message
 * naming the file, the line and the fix to err. The caller frees *cfg with
 * hsmux_config_free().
 */
int hsmux_config_load(struct hsmux_config **cfg, char *err, size_t err_len);

/* Parses one file; the same contract as hsmux_config_load(). */
int hsmux_config_parse_file(const char *path, struct hsmux_config **cfg, char *err,
			    size_t err_len);

void hsmux_config_free(struct hsmux_config *cfg);

/* The value of key in sec, or NULL. *line gets its line when line is not NULL. */
const char *hsmux_config_get(const struct hsmux_config_section *sec, const char *key,
			     unsigned int *line);

/* Parses "yes/no/true/false/on/off/1/0". Returns false for anything else. */
bool hsmux_config_parse_bool(const char *value, bool *out);

/*
 * The default data directory for hsmux ($XDG_DATA_HOME/hsmux or
 * ~/.local/share/hsmux), written to buf. Returns false when neither
 * variable gives a home.
 */
bool hsmux_data_dir(char *buf, size_t len);

#endif /* HSMUX_CONFIG_H */
