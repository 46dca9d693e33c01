import Foundation
import KeyportJSON
import KeyportKeys
import KeyportModel
import KeyportOutboundHTTP

/// The back channel of a sign-in through another OpenID provider (brokering): the code the
/// browser brought back exchanged at the provider's token endpoint (with the PKCE verifier and
/// the client's secret), its ID token verified — signature by the provider's keys, `iss`, `aud`
/// (and `azp`), lifetime, and the `nonce` this sign-in sent — and, when the provider has one, its
/// userinfo read for what the ID token left out.
public struct UpstreamSignIn: Sendable {
    let http: OutboundHTTP
    let verifier: FederatedJWTVerifier

    public init(http: OutboundHTTP = .shared, verifier: FederatedJWTVerifier) {
        self.http = http
        self.verifier = verifier
    }

    public struct Failure: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// The provider refused, or answered something that does not prove the person.
            case refused
            /// The provider could not be reached (or is busy): try again later.
            case unavailable
        }
        public let kind: Kind
        /// For the event an administrator reads: never a code, token or secret.
        public let detail: String
        static func refused(_ detail: String) -> Failure { Failure(kind: .refused, detail: detail) }
    }

    public static let maxAnswer = 64 * 1024

    /// The verified claims of the person `code` stands for: the ID token's, with the userinfo's
    /// claims it lacks.
    public func signIn(code: String, redirectURI: String, codeVerifier: String?, nonce: String, provider: IdentityProvider,
                       now: Timestamp, partition: String) async throws -> [String: JSONValue] {
        let (idToken, accessToken) = try await exchange(code: code, redirectURI: redirectURI, codeVerifier: codeVerifier, provider: provider,
                                                       partition: partition)
        var claims = try await verifyIDToken(idToken, provider: provider, nonce: nonce, now: now, partition: partition)
        if let url = provider.userInfoURL, let accessToken {
            let info = try await userInfo(url: url, accessToken: accessToken, partition: partition)
            guard let subject = info["sub"]?.stringValue, FederatedJWTVerifier.same(subject, claims["sub"]?.stringValue ?? "") else {
                throw Failure.refused("The userinfo's sub is not the ID token's")
            }
            for (key, value) in info where claims[key] == nil { claims[key] = value }
        }
        return claims
    }

    func exchange(code: String, redirectURI: String, codeVerifier: String?, provider: IdentityProvider,
                  partition: String) async throws -> (idToken: String, accessToken: String?) {
        guard let url = provider.tokenURL, let clientId = provider.clientId else { throw Failure.refused("The provider has no tokenUrl or clientId") }
        let secret = provider.config["clientSecret"] ?? ""
        var form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI)]
        if let codeVerifier { form.append(("code_verifier", codeVerifier)) }
        var authorization: String?
        if provider.clientAuthMethod == IdentityProvider.clientSecretBasic {
            // RFC 6749 §2.3.1: both form-encoded before Basic's own encoding.
            authorization = "Basic " + Data("\(Self.formEncode(clientId)):\(Self.formEncode(secret))".utf8).base64EncodedString()
        } else {
            form.append(("client_id", clientId))
            if !secret.isEmpty { form.append(("client_secret", secret)) }
        }
        let body = form.map { "\($0.0)=\(Self.formEncode($0.1))" }.joined(separator: "&")
        let answer: OutboundHTTP.Answer
        switch await http.post(url: url, form: body, authorization: authorization, maxBody: Self.maxAnswer, partition: partition) {
        case .success(let a): answer = a
        case .failure(.refusedURL): throw Failure.refused("The provider's tokenUrl is not an http(s) URL")
        case .failure(.tooLarge): throw Failure.refused("The provider's token answer is too large")
        case .failure: throw Failure(kind: .unavailable, detail: "The provider's token endpoint did not answer")
        }
        let json = JSONValue.parse(String(decoding: answer.body, as: UTF8.self))?.objectValue
        guard answer.status == 200, let json else {
            let error = json?["error"]?.stringValue.map { String($0.prefix(64).filter { $0.isLetter || $0 == "_" }) } ?? "HTTP \(answer.status)"
            throw Failure.refused("The provider refused the code: \(error)")
        }
        guard let idToken = json["id_token"]?.stringValue, !idToken.isEmpty else { throw Failure.refused("The provider's token answer has no id_token") }
        return (idToken, json["access_token"]?.stringValue)
    }

    /// The ID token's claims once it is this provider's, for this client and this sign-in.
    public func verifyIDToken(_ token: String, provider: IdentityProvider, nonce: String, now: Timestamp,
                              partition: String) async throws -> [String: JSONValue] {
        guard let issuer = provider.issuer, let clientId = provider.clientId else { throw Failure.refused("The provider has no issuer or clientId") }
        let claims: [String: JSONValue]
        do {
            claims = try await verifier.signedClaims(token, provider: provider, issuer: issuer, partition: partition)
        } catch let refusal as FederatedJWTVerifier.Refusal {
            throw Failure(kind: refusal.kind == .issuerUnavailable ? .unavailable : .refused, detail: "ID token: \(refusal.detail)")
        }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let a)?: audiences = [a]
        case .array(let list)?: audiences = list.compactMap(\.stringValue)
        default: audiences = []
        }
        guard audiences.contains(where: { FederatedJWTVerifier.same($0, clientId) }) else { throw Failure.refused("ID token: wrong audience") }
        if audiences.count > 1 {
            guard FederatedJWTVerifier.same(claims["azp"]?.stringValue, clientId) else { throw Failure.refused("ID token: several audiences and azp is not this client") }
        }
        let skew = Int64(provider.allowedClockSkew)
        let nowSeconds = now.secondsSince1970
        func seconds(_ name: String) -> Int64? {
            guard case .number(let n)? = claims[name], n.isFinite, abs(n) < 1e12 else { return nil }
            return Int64(n)
        }
        guard let exp = seconds("exp"), nowSeconds < exp + skew else { throw Failure.refused("ID token: expired or no exp") }
        if let iat = seconds("iat"), iat - skew > nowSeconds + 60 { throw Failure.refused("ID token: issued in the future") }
        guard FederatedJWTVerifier.same(claims["nonce"]?.stringValue, nonce) else { throw Failure.refused("ID token: nonce is not this sign-in's") }
        guard let subject = claims["sub"]?.stringValue, (1...255).contains(subject.utf8.count) else {
            throw Failure.refused("ID token: sub missing or longer than 255 characters")
        }
        return claims
    }

    func userInfo(url: String, accessToken: String, partition: String) async throws -> [String: JSONValue] {
        switch await http.get(url: url, authorization: "Bearer \(accessToken)", maxBody: Self.maxAnswer, partition: partition) {
        case .success(let answer):
            guard answer.status == 200, let json = JSONValue.parse(String(decoding: answer.body, as: UTF8.self))?.objectValue else {
                throw Failure.refused("The provider's userinfo answered HTTP \(answer.status) or not a JSON object")
            }
            return json
        case .failure(.refusedURL): throw Failure.refused("The provider's userInfoUrl is not an http(s) URL")
        case .failure(.tooLarge): throw Failure.refused("The provider's userinfo answer is too large")
        case .failure: throw Failure(kind: .unavailable, detail: "The provider's userinfo endpoint did not answer")
        }
    }

    public static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
