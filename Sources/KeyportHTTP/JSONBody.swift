import Foundation
import KeyportJSON
import Hummingbird
import NIOCore

/// JSON answers with a fixed content type and, for stable output, sorted keys.
public enum JSONBody {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }

    public static func raw(_ json: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// Decodes a request body, turning every way it can be wrong into a sentence.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        try decode(type, from: try await BodyReader.read(request, context: context))
    }

    /// The same, for a body already read (a handler that also needs the raw bytes).
    public static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw BadInput("The request body is empty; a JSON object was expected") }
        // JSONDecoder keeps one of two values under the same key without a word; a client that
        // sends both meant something, so say no rather than guess which.
        if let key = JSONDuplicateKeys.first(in: buffer.readableBytesView) {
            throw BadInput("The request body has the key '\(String(key.prefix(64)))' twice in one object")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw BadInput("The request body is not valid JSON", keycloakCode: "invalid_request")
            }
            throw BadInput(describe(error), keycloakCode: "unknown_error")
        } catch let error as BadInput {
            throw error
        } catch {
            throw BadInput("The request body is not valid JSON", keycloakCode: "invalid_request")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return String(p.drop { $0 == "." })
        }
        switch error {
        case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
            return "The request body has the wrong type: expected \(readable(type))"
        case .typeMismatch(let type, let context):
            return "Field '\(path(context.codingPath))' has the wrong type: expected \(readable(type))"
        case .valueNotFound(let type, let context):
            return "Field '\(path(context.codingPath))' must not be null: expected \(readable(type))"
        case .keyNotFound(let key, let context):
            return "Field '\(path(context.codingPath + [key]))' is required"
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? BadInput { return underlying.message }
            return context.codingPath.isEmpty ? "The request body is not valid JSON" : "Field '\(path(context.codingPath))' is invalid: \(context.debugDescription)"
        @unknown default:
            return "The request body could not be read"
        }
    }

    static func readable(_ type: Any.Type) -> String {
        let name = String(describing: type)
        switch name {
        case "String": return "a string"
        case "Bool": return "a boolean"
        case "Int", "Int64", "Int32": return "an integer"
        case let n where n.hasPrefix("Array"): return "a list"
        case let n where n.hasPrefix("Dictionary"): return "an object"
        default: return name
        }
    }
}

/// Input that cannot be accepted; each layer renders it in its own wire shape.
public struct BadInput: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// Keycloak's OAuth-style code for the same failure when its JSON reader has one:
    /// `unknown_error` for a value of the wrong type, `invalid_request` for text that is not JSON.
    public var keycloakCode: String?
    public init(_ message: String, keycloakCode: String? = nil) {
        self.message = message
        self.keycloakCode = keycloakCode
    }
    public var description: String { message }
}

/// Reading a request body: too large is a `BadInput`; a client that goes away mid-body
/// (reset, half-sent) is `BodyReader.Aborted` — a 400 nobody reads, never a 500.
public enum BodyReader {
    public struct Aborted: Error, Equatable {}

    public static func read(_ request: Request, context: some RequestContext) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: context.maxUploadSize)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw BadInput("The request body is larger than \(context.maxUploadSize) bytes")
        } catch {
            throw Aborted()
        }
    }
}

