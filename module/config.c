#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "module/config.h"

#define SECTION_PREFIX "backend:"

struct parse_state {
	struct hsmux_config *cfg;
	FILE *file;
	unsigned int line;
	char *err;
	size_t err_len;
	bool failed;
};

static void set_error(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct parse_state *st, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (st->failed)
		return;
	st->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(st->err, st->err_len, "%s:%u: %s", st->cfg->path, st->line, msg);
}

/* inih reads through this, so the handler knows the line it is on. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	char *got = fgets(str, num, st->file);

	if (got && strchr(got, '\n'))
		st->line++;
	else if (got && feof(st->file))
		st->line++;
	return got;
}

static struct hsmux_config_section *find_section(struct hsmux_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_sections; i++)
		if (strcmp(cfg->sections[i].name, name) == 0)
			return &cfg->sections[i];
	return NULL;
}

static struct hsmux_config_section *add_section(struct parse_state *st, const char *name)
{
	struct hsmux_config *cfg = st->cfg;
	struct hsmux_config_section *grown;

	grown = realloc(cfg->sections, (cfg->n_sections + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	cfg->sections = grown;
	grown = &cfg->sections[cfg->n_sections];
	memset(grown, 0, sizeof(*grown));
	grown->name = strdup(name);
	if (!grown->name)
		return NULL;
	grown->file = cfg->path;
	grown->line = st->line;
	cfg->n_sections++;
	return grown;
}

static int add_entry(struct hsmux_config_section *sec, const char *key, const char *value,
		     unsigned int line)
{
	struct hsmux_config_entry *grown;

	grown = realloc(sec->entries, (sec->n_entries + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	sec->entries = grown;
	grown = &sec->entries[sec->n_entries];
	grown->key = strdup(key);
	grown->value = strdup(value);
	grown->line = line;
	sec->n_entries++;
	if (!grown->key || !grown->value)
		return -1;
	return 0;
}

static int handle_pair(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	struct hsmux_config_section *sec;
	const char *backend;

	if (strncmp(section, SECTION_PREFIX, strlen(SECTION_PREFIX)) != 0 ||
	    section[strlen(SECTION_PREFIX)] == '\0') {
		set_error(st, "unknown section '[%s]'; backends are declared as [backend:NAME]",
			  section);
		return 0;
	}
	backend = section + strlen(SECTION_PREFIX);
	sec = find_section(st->cfg, backend);
	if (sec && sec->entries && hsmux_config_get(sec, name, NULL)) {
		set_error(st, "key '%s' is set twice in this section; keep one", name);
		return 0;
	}
	if (!sec)
		sec = add_section(st, backend);
	if (!sec || add_entry(sec, name, value, st->line) != 0) {
		set_error(st, "%s", "out of memory");
		return 0;
	}
	return 1;
}

int hsmux_config_parse_file(const char *path, struct hsmux_config **out, char *err,
			    size_t err_len)
{
	struct parse_state st = {.err = err, .err_len = err_len};
	int rc;

	*out = NULL;
	st.cfg = calloc(1, sizeof(*st.cfg));
	if (!st.cfg)
		return -1;
	st.cfg->path = strdup(path);
	st.file = fopen(path, "re");
	if (!st.cfg->path || !st.file) {
		snprintf(err, err_len, "%s: cannot read the config: %s; fix its permissions or "
			 "point HSMUX_CONF at a readable file", path, strerror(errno));
		hsmux_config_free(st.cfg);
		return -1;
	}
	rc = ini_parse_stream(read_line, &st, handle_pair, &st);
	fclose(st.file);
	if (rc > 0 && !st.failed) {
		st.line = (unsigned int)rc;
		set_error(&st, "%s", "syntax error; expected '[backend:NAME]' or 'key = value'");
	}
	if (st.failed || rc != 0) {
		hsmux_config_free(st.cfg);
		return -1;
	}
	if (st.cfg->n_sections == 0) {
		snprintf(err, err_len, "%s: no [backend:NAME] section; add one, for example "
			 "'[backend:soft]' with 'type = softhsm'", path);
		hsmux_config_free(st.cfg);
		return -1;
	}
	*out = st.cfg;
	return 0;
}

static struct hsmux_config *default_config(void)
{
	struct hsmux_config *cfg = calloc(1, sizeof(*cfg));
	struct hsmux_config_section *sec;

	if (!cfg)
		return NULL;
	sec = calloc(1, sizeof(*sec));
	cfg->sections = sec;
	if (!sec)
		goto fail;
	cfg->n_sections = 1;
	sec->name = strdup("soft");
	if (!sec->name || add_entry(sec, "type", "softhsm", 0) != 0)
		goto fail;
	return cfg;
fail:
	hsmux_config_free(cfg);
	return NULL;
}

static bool join_path(char *buf, size_t len, const char *dir, const char *rest)
{
	int n = snprintf(buf, len, "%s/%s", dir, rest);

	return n > 0 && (size_t)n < len;
}

int hsmux_config_load(struct hsmux_config **out, char *err, size_t err_len)
{
	const char *env = secure_getenv("HSMUX_CONF");
	const char *xdg = secure_getenv("XDG_CONFIG_HOME");
	const char *home = secure_getenv("HOME");
	char path[4096];

	*out = NULL;
	if (env && *env)
		return hsmux_config_parse_file(env, out, err, err_len);
	if (xdg && *xdg && join_path(path, sizeof(path), xdg, "hsmux/hsmux.conf") &&
	    access(path, F_OK) == 0)
		return hsmux_config_parse_file(path, out, err, err_len);
	if ((!xdg || !*xdg) && home && *home &&
	    join_path(path, sizeof(path), home, ".config/hsmux/hsmux.conf") &&
	    access(path, F_OK) == 0)
		return hsmux_config_parse_file(path, out, err, err_len);
	if (access("/etc/hsmux/hsmux.conf", F_OK) == 0)
		return hsmux_config_parse_file("/etc/hsmux/hsmux.conf", out, err, err_len);

	*out = default_config();
	if (!*out) {
		snprintf(err, err_len, "out of memory while making the default config");
		return -1;
	}
	return 0;
}

void hsmux_config_free(struct hsmux_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		struct hsmux_config_section *sec = &cfg->sections[i];

		for (size_t j = 0; j < sec->n_entries; j++) {
			free(sec->entries[j].key);
			free(sec->entries[j].value);
		}
		free(sec->entries);
		free(sec->name);
	}
	free(cfg->sections);
	free(cfg->path);
	free(cfg);
}

const char *hsmux_config_get(const struct hsmux_config_section *sec, const char *key,
			     unsigned int *line)
{
	for (size_t i = 0; i < sec->n_entries; i++) {
		if (strcmp(sec->entries[i].key, key) == 0) {
			if (line)
				*line = sec->entries[i].line;
			return sec->entries[i].value;
		}
	}
	return NULL;
}

bool hsmux_config_parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

bool hsmux_data_dir(char *buf, size_t len)
{
	const char *xdg = secure_getenv("XDG_DATA_HOME");
	const char *home = secure_getenv("HOME");

	if (xdg && *xdg)
		return join_path(buf, len, xdg, "hsmux");
	if (home && *home)
		return join_path(buf, len, home, ".local/share/hsmux");
	return false;
}
