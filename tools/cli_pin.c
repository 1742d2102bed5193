/*
 * Reading PINs: from a file, from the environment, or from a no-echo prompt
 * on the terminal, never from the command line, where every local user could
 * read it in the process list.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ui.h>

#include "cli.h"

/*
 * Reads the first line of path into buf. The file is read with read(2), not
 * stdio, so that no copy of the PIN stays in a buffer this code cannot wipe.
 */
static int pin_from_file(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;
	char *newline = NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot read PIN file '%s': %s", path, strerror(errno));
		return 1;
	}
	while (used < len && !newline) {
		n = read(fd, buf + used, len - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("cannot read PIN file '%s': %s", path, strerror(errno));
			close(fd);
			return 1;
		}
		if (n == 0)
			break;
		newline = memchr(buf + used, '\n', (size_t)n);
		used += (size_t)n;
	}
	close(fd);

	if (!newline && used == len) {
		cli_error("the PIN in file '%s' is longer than %d characters", path, CLI_PIN_MAX);
		return 1;
	}
	if (!newline)
		newline = buf + used;
	*newline = '\0';
	if (newline > buf && newline[-1] == '\r')
		newline[-1] = '\0';
	if (buf[0] == '\0') {
		cli_error("PIN file '%s' is empty; write the PIN on its first line", path);
		return 1;
	}
	return 0;
}

static int pin_from_env(const char *name, const char *value, char *buf, size_t len)
{
	size_t n = strlen(value);

	if (n == 0) {
		cli_error("%s is set but empty; set it to the PIN or unset it", name);
		return 1;
	}
	if (n >= len) {
		cli_error("the PIN in %s is longer than %d characters", name, CLI_PIN_MAX);
		return 1;
	}
	memcpy(buf, value, n + 1);
	return 0;
}

/* Prompts on the terminal with echo off, twice when verify is set. */
static int pin_from_prompt(const char *prompt, bool verify, char *buf, size_t len)
{
	char again[CLI_PIN_MAX + 1];
	UI *ui;
	int ret = 1;

	ui = UI_new();
	if (!ui)
		goto out;
	if (len > sizeof(again))
		len = sizeof(again);
	if (UI_add_input_string(ui, prompt, 0, buf, 1, (int)len - 1) < 0)
		goto out;
	if (verify && UI_add_verify_string(ui, prompt, 0, again, 1, (int)len - 1, buf) < 0)
		goto out;
	if (UI_process(ui) == 0)
		ret = 0;
out:
	UI_free(ui);
	OPENSSL_cleanse(again, sizeof(again));
	return ret;
}

/* OpenSSL's UI falls back to stdin without a terminal; a PIN prompt must not. */
static bool have_terminal(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static const char *pin_file_option(const char *env_name)
{
	if (env_name && strcmp(env_name, "HSMUX_SO_PIN") == 0)
		return "--so-pin-file FILE";
	return "--pin-file FILE";
}

static int read_pin(const char *prompt, const char *pin_file, const char *env_name, bool verify,
                    char *buf, size_t len)
{
	const char *env = env_name ? getenv(env_name) : NULL;
	int ret;

	if (len < 2) {
		cli_error("internal error: PIN buffer too small");
		return 1;
	}
	if (pin_file)
		ret = pin_from_file(pin_file, buf, len);
	else if (env)
		ret = pin_from_env(env_name, env, buf, len);
	else if (have_terminal())
		ret = pin_from_prompt(prompt, verify, buf, len);
	else
		ret = -1;

	if (ret == 1 && !pin_file && !env)
		cli_error("no PIN was entered%s; run the command again",
		          verify ? ", or the two entries differ" : "");
	if (ret == -1)
		cli_error("no PIN given and no terminal to prompt on; pass %s or set %s",
		          pin_file_option(env_name), env_name ? env_name : "HSMUX_PIN");
	if (ret != 0)
		OPENSSL_cleanse(buf, len);
	return ret == 0 ? 0 : 1;
}

int cli_read_pin(const char *prompt, const char *pin_file, const char *env_name, char *buf,
                 size_t len)
{
	return read_pin(prompt, pin_file, env_name, false, buf, len);
}

int cli_read_new_pin(const char *prompt, const char *pin_file, const char *env_name, char *buf,
                     size_t len)
{
	return read_pin(prompt, pin_file, env_name, true, buf, len);
}
