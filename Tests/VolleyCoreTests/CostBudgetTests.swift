import Testing
@testable import VolleyCore

/// The dollar budget: reservations before sending, reconciliation after, never past the limit.
struct CostBudgetTests {
    @Test func reservationsHoldTheWorstCaseAndReconcileToTheRealCost() {
        var budget = CostBudget(limit: 1.0)
        let first = budget.reserve(0.4), second = budget.reserve(0.4), third = budget.reserve(0.4)
        #expect(first && second)
        #expect(!third, "0.8 reserved: a third worst case does not fit")
        #expect(budget.reserved == 0.8 && budget.spent == 0)
        // The first call cost 0.1 of its 0.4: 0.3 comes back.
        budget.settle(reserved: 0.4, cost: 0.1)
        #expect(abs(budget.left - 0.5) < 1e-12)
        let fourth = budget.reserve(0.4)
        #expect(fourth)
        // A failed attempt that was not billed gives its whole reservation back.
        budget.settle(reserved: 0.4, cost: 0)
        budget.settle(reserved: 0.4, cost: 0.4)
        #expect(abs(budget.spent - 0.5) < 1e-12 && budget.reserved == 0)
    }

    @Test func concurrentReservationsNeverTogetherPassTheLimit() {
        // 64 calls at once, each worst case 0.03: a 1.00 budget affords 33 of them.
        var budget = CostBudget(limit: 1.0)
        let granted = (0..<64).filter { _ in budget.reserve(0.03) }.count
        #expect(granted == 33)
        #expect(budget.reserved <= budget.limit)
    }

    @Test func aZeroBudgetAffordsOnlyFreeCalls() {
        var budget = CostBudget(limit: 0)
        let free = budget.reserve(0), paid = budget.reserve(0.000001)
        #expect(free, "the mock costs nothing")
        #expect(!paid)
    }
}
