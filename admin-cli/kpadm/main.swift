import Foundation
import KpadmKit

exit(await Kpadm.run(Array(CommandLine.arguments.dropFirst())))
