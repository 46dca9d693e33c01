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

static inline int keyport_ldap_search(LDAP *ld, const char *base, int scope, const char *filter, char **attributes,
                                      LDAPControl **controls, long milliseconds, int sizeLimit, LDAPMessage **result) {
    struct timeval limit = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    return ldap_search_ext_s(ld, base, scope, filter, attributes, 0, controls, NULL, &limit, sizeLimit, result);
}

/// Whether `text` is a DN in RFC 4514's syntax, as libldap parses it.
static inline int keyport_ldap_is_dn(const char *text) {
    LDAPDN dn = NULL;
    int result = ldap_str2dn(text, &dn, LDAP_DN_FORMAT_LDAPV3);
    if (dn != NULL) ldap_dnfree(dn);
    return result == LDAP_SUCCESS;
}
