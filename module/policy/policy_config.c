/*
 * The policy keys of a [backend:NAME] section:
 *
 *   policy = strict | compat          (default strict)
 *   extractable = no | trusted-wrap | yes
 *       default: no under strict, yes under compat; yes needs compat
 *   weak-template = tighten | reject  (default tighten)
 *   rsa-min-bits = N                  (default 2048, at least 1024)
 *   mechanisms-allow = CKM_A, CKM_B   lifts the default denials for these
 *   mechanisms-deny = CKM_C, 0x1234   denies these too
 *
 * tighten is the default, so that clients such as pkcs11-tool, whose
 * templates do not ask for protection, still get a protected key. reject
 * suits applications that must learn that their template was changed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "module/policy/policy_internal.h"
#include "module/trace.h"

const char *const hsmux_policy_config_keys[] = {
    "policy",          "extractable", "weak-template", "rsa-min-bits", "mechanisms-allow",
    "mechanisms-deny", NULL,
};

static struct policy_mech_memo default_memo;

const struct hsmux_backend_policy hsmux_policy_default = {
    .profile = HSMUX_PROFILE_STRICT,
    .extractable = HSMUX_EXTRACTABLE_NO,
    .reject_weak = false,
    .min_rsa_bits = 2048,
    .memo = &default_memo,
};

static struct policy_mech_memo default_memo = {.owner = &hsmux_policy_default};

CK_RV policy_reject(CK_RV rv, const char *fn, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!(hsmux_trace_mask & HSMUX_TRACE_POLICY))
		return rv;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hsmux_trace_printf(HSMUX_TRACE_POLICY, "%s rejected: %s: %s", fn, msg, hsmux_rv_name(rv));
	return rv;
}

bool session_is_so(const struct hsmux_session_ref *s)
{
	CK_SESSION_INFO info;

	if (!s->be->ops->get_session_info ||
	    s->be->ops->get_session_info(s->be, s->bsess, &info) != CKR_OK)
		return false;
	return info.state == CKS_RW_SO_FUNCTIONS;
}

static const char *const extractable_names[] = {
    [HSMUX_EXTRACTABLE_NO] = "no",
    [HSMUX_EXTRACTABLE_TRUSTED_WRAP] = "trusted-wrap",
    [HSMUX_EXTRACTABLE_YES] = "yes",
};

static const char *section_file(const struct hsmux_config_section *sec)
{
	return sec->file ? sec->file : "(built-in default config)";
}

/* Parses a comma or blank separated list of mechanisms into list. */
static CK_RV parse_mech_list(const struct hsmux_config_section *sec, const char *key,
                             CK_MECHANISM_TYPE *list, size_t *n, char *err, size_t err_len)
{
	unsigned int line = sec->line;
	const char *value = hsmux_config_get(sec, key, &line);
	char *copy, *save = NULL;
	CK_RV rv = CKR_OK;

	*n = 0;
	if (!value)
		return CKR_OK;
	copy = strdup(value);
	if (!copy)
		return CKR_HOST_MEMORY;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (*n == HSMUX_POLICY_MAX_OVERRIDES) {
			snprintf(err, err_len,
			         "%s:%u: '%s' lists more than %d mechanisms; "
			         "shorten the list",
			         section_file(sec), line, key, HSMUX_POLICY_MAX_OVERRIDES);
			rv = CKR_GENERAL_ERROR;
			break;
		}
		if (!mech_parse(tok, &list[*n])) {
			snprintf(err, err_len,
			         "%s:%u: unknown mechanism '%s' in '%s'; use a "
			         "CKM_ name or a number such as 0x1087",
			         section_file(sec), line, tok, key);
			rv = CKR_GENERAL_ERROR;
			break;
		}
		(*n)++;
	}
	free(copy);
	return rv;
}

static CK_RV parse_profile(const struct hsmux_config_section *sec, struct hsmux_backend_policy *p,
                           char *err, size_t err_len)
{
	unsigned int line = sec->line;
	const char *value = hsmux_config_get(sec, "policy", &line);

	if (!value || strcasecmp(value, "strict") == 0) {
		p->profile = HSMUX_PROFILE_STRICT;
		p->extractable = HSMUX_EXTRACTABLE_NO;
	} else if (strcasecmp(value, "compat") == 0) {
		p->profile = HSMUX_PROFILE_COMPAT;
		p->extractable = HSMUX_EXTRACTABLE_YES;
	} else {
		snprintf(err, err_len,
		         "%s:%u: invalid 'policy = %s' in backend '%s'; use strict "
		         "or compat",
		         section_file(sec), line, value, sec->name);
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

static CK_RV parse_extractable(const struct hsmux_config_section *sec,
                               struct hsmux_backend_policy *p, char *err, size_t err_len)
{
	unsigned int line = sec->line;
	const char *value = hsmux_config_get(sec, "extractable", &line);

	if (!value)
		return CKR_OK;
	if (strcasecmp(value, "no") == 0) {
		p->extractable = HSMUX_EXTRACTABLE_NO;
	} else if (strcasecmp(value, "trusted-wrap") == 0) {
		p->extractable = HSMUX_EXTRACTABLE_TRUSTED_WRAP;
	} else if (strcasecmp(value, "yes") == 0 && p->profile == HSMUX_PROFILE_COMPAT) {
		p->extractable = HSMUX_EXTRACTABLE_YES;
	} else {
		snprintf(err, err_len,
		         "%s:%u: invalid 'extractable = %s' in backend '%s'; use "
		         "no or trusted-wrap (yes needs 'policy = compat')",
		         section_file(sec), line, value, sec->name);
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

static CK_RV parse_weak_template(const struct hsmux_config_section *sec,
                                 struct hsmux_backend_policy *p, char *err, size_t err_len)
{
	unsigned int line = sec->line;
	const char *value = hsmux_config_get(sec, "weak-template", &line);

	if (!value || strcasecmp(value, "tighten") == 0) {
		p->reject_weak = false;
	} else if (strcasecmp(value, "reject") == 0) {
		p->reject_weak = true;
	} else {
		snprintf(err, err_len,
		         "%s:%u: invalid 'weak-template = %s' in backend '%s'; use "
		         "tighten or reject",
		         section_file(sec), line, value, sec->name);
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

static CK_RV parse_rsa_min_bits(const struct hsmux_config_section *sec,
                                struct hsmux_backend_policy *p, char *err, size_t err_len)
{
	unsigned int line = sec->line;
	const char *value = hsmux_config_get(sec, "rsa-min-bits", &line);
	unsigned long bits;
	char *end;

	if (!value)
		return CKR_OK;
	errno = 0;
	bits = strtoul(value, &end, 10);
	if (errno || end == value || *end || bits < 1024 || bits > 16384) {
		snprintf(err, err_len,
		         "%s:%u: invalid 'rsa-min-bits = %s' in backend '%s'; use "
		         "a number of bits from 1024 to 16384",
		         section_file(sec), line, value, sec->name);
		return CKR_GENERAL_ERROR;
	}
	p->min_rsa_bits = bits;
	return CKR_OK;
}

CK_RV hsmux_policy_config(struct hsmux_backend_policy **out, const struct hsmux_config_section *sec,
                          char *err, size_t err_len)
{
	struct hsmux_backend_policy *p = malloc(sizeof(*p));
	CK_RV rv;

	*out = NULL;
	if (!p)
		return CKR_HOST_MEMORY;
	*p = hsmux_policy_default;
	rv = parse_profile(sec, p, err, err_len);
	if (rv == CKR_OK)
		rv = parse_extractable(sec, p, err, err_len);
	if (rv == CKR_OK)
		rv = parse_weak_template(sec, p, err, err_len);
	if (rv == CKR_OK)
		rv = parse_rsa_min_bits(sec, p, err, err_len);
	if (rv == CKR_OK)
		rv = parse_mech_list(sec, "mechanisms-allow", p->allow, &p->n_allow, err, err_len);
	if (rv == CKR_OK)
		rv = parse_mech_list(sec, "mechanisms-deny", p->deny, &p->n_deny, err, err_len);
	/* Without a memo the policy still works, only slower: no failure for that. */
	p->memo = NULL;
	if (rv == CKR_OK)
		(void)policy_mech_memo_attach(p);
	if (rv != CKR_OK) {
		free(p);
		return rv;
	}
	hsmux_trace(HSMUX_TRACE_CONFIG | HSMUX_TRACE_POLICY,
	            "backend '%s': policy %s, extractable %s, weak templates %s, RSA >= %lu bits",
	            sec->name, p->profile == HSMUX_PROFILE_STRICT ? "strict" : "compat",
	            extractable_names[p->extractable], p->reject_weak ? "rejected" : "tightened",
	            (unsigned long)p->min_rsa_bits);
	*out = p;
	return CKR_OK;
}

void hsmux_policy_free(struct hsmux_backend_policy *policy)
{
	if (policy)
		free(policy->memo);
	free(policy);
}
