import Testing
@testable import VolleyRPC

@Suite struct RPCMethodTests {
    @Test func everyMethodIsListedOnceAndParsesBackFromItsName() {
        let names = RPCMethod.all.map(\.name)
        #expect(names == ["initialize", "ping", "gather", "as_completed", "call", "cancel", "stats", "configure", "shutdown", "exit"])
        #expect(Set(RPCMethod.all).count == RPCMethod.Cancellable.allCases.count + RPCMethod.Other.allCases.count + 1)
        for method in RPCMethod.all {
            #expect(RPCMethod(method.name) == method)
        }
    }

    @Test func namesAreExactAndUnknownOnesAreNil() {
        #expect(RPCMethod("as_completed") == .cancellable(.asCompleted))
        #expect(RPCMethod("asCompleted") == nil)
        #expect(RPCMethod("Gather") == nil)
        #expect(RPCMethod("") == nil)
        #expect(RPCMethod("shutdown") == .shutdown)
    }
}
