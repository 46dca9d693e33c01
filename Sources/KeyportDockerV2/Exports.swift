// The grammar is part of what this module offers.
@_exported import DockerV2Grammar
