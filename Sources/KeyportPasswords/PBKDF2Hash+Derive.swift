import _CryptoExtras
import Crypto

extension PBKDF2Hash {
    /// Computes PBKDF2 over the UTF-8 password (Keycloak NUL-pads short passwords, which HMAC's
    /// zero-padding of its key makes equivalent).
    func derive(_ password: String) throws -> [UInt8] {
        let function: KDF.Insecure.PBKDF2.HashFunction = switch digest {
        case .sha1: .insecureSHA1
        case .sha256: .sha256
        case .sha512: .sha512
        }
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: function,
                                                    outputByteCount: hash.count, unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}
