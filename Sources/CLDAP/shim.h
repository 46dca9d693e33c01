// OpenLDAP's client library (Debian: libldap-dev). Its option values and the simple bind are
// macros or out-parameters Swift cannot call directly; these wrappers take plain values.
#include <ldap.h>
#include <lber.h>
#include <sys/time.h>

static inline int keyport_ldap_set_int(LDAP *ld, int option, int value) {
    return ldap_set_option(ld, option, &value);
}

static inline int keyport_ldap_set_off(LDAP *ld, int option) {
    return ldap_set_option(ld, option, LDAP_OPT_OFF);
}

static inline int keyport_ldap_set_timeval(LDAP *ld, int option, long milliseconds) {
    struct timeval value = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    return ldap_set_option(ld, option, &value);
}

static inline int keyport_ldap_set_string(LDAP *ld, int option, const char *value) {
    return ldap_set_option(ld, option, value);
}

static inline int keyport_ldap_simple_bind(LDAP *ld, const char *dn, const char *password, size_t length) {
    struct berval credential;
    credential.bv_val = (char *)password;
    credential.bv_len = length;
    return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &credential, NULL, NULL, NULL);
}

/// The server's diagnostic message for the last operation on `ld`, or NULL; free with ldap_memfree.
static inline char *keyport_ldap_diagnostic(LDAP *ld) {
    char *message = NULL;
    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &message);
    return message;
}

/// Starts a search; its messages are read one at a time with keyport_ldap_next.
static inline int keyport_ldap_search_start(LDAP *ld, const char *base, int scope, const char *filter, char **attributes,
                                            LDAPControl **controls, long milliseconds, int sizeLimit, int *messageId) {
    struct timeval limit = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    return ldap_search_ext(ld, base, scope, filter, attributes, 0, controls, NULL, &limit, sizeLimit, messageId);
}

/// The next message of `messageId`, waiting at most `milliseconds`: 1 and `*message` set,
/// 0 on timeout, -1 on error (the handle's LDAP_OPT_RESULT_CODE says which).
static inline int keyport_ldap_next(LDAP *ld, int messageId, long milliseconds, LDAPMessage **message) {
    struct timeval limit = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    int type = ldap_result(ld, messageId, LDAP_MSG_ONE, &limit, message);
    if (type > 0) return 1;
    return type;
}

static inline int keyport_ldap_result_code(LDAP *ld) {
    int code = LDAP_OTHER;
    ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
    return code;
}

static inline int keyport_ldap_is_entry(LDAPMessage *message) { return ldap_msgtype(message) == LDAP_RES_SEARCH_ENTRY; }
static inline int keyport_ldap_is_result(LDAPMessage *message) { return ldap_msgtype(message) == LDAP_RES_SEARCH_RESULT; }

/// Bounds one message from the directory (libldap would otherwise read any length it announces).
static inline int keyport_ldap_limit_incoming(LDAP *ld, ber_len_t bytes) {
    Sockbuf *sb = NULL;
    if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || sb == NULL) return -1;
    return ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &bytes) == 1 ? 0 : -1;
}

/// Whether `text` is a DN in RFC 4514's syntax, as libldap parses it.
static inline int keyport_ldap_is_dn(const char *text) {
    LDAPDN dn = NULL;
    int result = ldap_str2dn(text, &dn, LDAP_DN_FORMAT_LDAPV3);
    if (dn != NULL) ldap_dnfree(dn);
    return result == LDAP_SUCCESS;
}
