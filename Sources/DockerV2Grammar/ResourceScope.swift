/// One requested (or granted) resource of a docker-v2 token: `repository:team-a/app:pull,push`.
public struct ResourceScope: Sendable, Hashable, Codable, CustomStringConvertible {
    public var type: String
    public var name: String
    public var actions: [String]

    public init(type: String, name: String, actions: [String]) {
        self.type = type
        self.name = name
        self.actions = actions
    }

    public var description: String { "\(type):\(name):\(actions.joined(separator: ","))" }
}
