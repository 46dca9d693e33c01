import CArgon2
import KeyportModel

/// Thin, synchronous wrapper over the reference libargon2. Blocking and memory-hungry by
/// design: call it only from `PasswordHasher`'s bounded pool.
enum Argon2 {
    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "argon2 failed: " + String(cString: argon2_error_message(code)) }
    }

    static func hash(password: String, salt: [UInt8], variant: PasswordHash.Variant, version: Int,
                     memoryKiB: Int, iterations: Int, parallelism: Int, length: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: length)
        let type: argon2_type = switch variant {
        case .argon2id: Argon2_id
        case .argon2i: Argon2_i
        case .argon2d: Argon2_d
        }
        let passwordBytes = Array(password.utf8)
        let code = passwordBytes.withUnsafeBytes { pwd in
            salt.withUnsafeBytes { saltBytes in
                output.withUnsafeMutableBytes { out in
                    argon2_hash(UInt32(iterations), UInt32(memoryKiB), UInt32(parallelism),
                                pwd.baseAddress, pwd.count, saltBytes.baseAddress, saltBytes.count,
                                out.baseAddress, out.count, nil, 0, type, UInt32(version))
                }
            }
        }
        guard code == ARGON2_OK.rawValue else { throw Failure(code: code) }
        return output
    }
}

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}
