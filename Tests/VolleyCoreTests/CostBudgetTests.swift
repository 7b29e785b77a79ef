import Testing
@testable import VolleyCore

/// The dollar budget: reservations before sending, reconciliation after, never past the limit.
struct CostBudgetTests {
    @Test func reservationsHoldTheWorstCaseAndReconcileToTheRealCost() {
        var budget = CostBudget(limit: 1.0)
        let first = budget.reserve(0.4), second = budget.reserve(0.4), third = budget.reserve(0.4)
        #expect(first && second)
        #expect(!third, "0.8 reserved: a third worst case does not fit")
        #expect(budget.reserved == 0.8 && budget.spent() == 0)
        // The first call cost 0.1 of its 0.4: 0.3 comes back.
        budget.settle(reserved: 0.4, cost: 0.1)
        #expect(abs(budget.left() - 0.5) < 1e-12)
        let fourth = budget.reserve(0.4)
        #expect(fourth)
        // A failed attempt that was not billed gives its whole reservation back.
        budget.settle(reserved: 0.4, cost: 0)
        budget.settle(reserved: 0.4, cost: 0.4)
        #expect(abs(budget.spent() - 0.5) < 1e-12 && budget.reserved == 0)
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

/// A provider's budget over a rolling day, in virtual time: spending leaves the window a whole
/// day after the minute it was settled in ended, never before a day has passed.
struct RollingDayBudgetTests {
    /// `budget.reserve` (a mutating call cannot be the subject of `#expect`).
    private func reserve(_ budget: inout CostBudget, _ worst: Double, at now: Double) -> Bool {
        budget.reserve(worst, now: now)
    }


    @Test func spendingCountsForADayAfterItsMinuteThenLeaves() {
        var day = CostBudget(limit: 1.0, window: 86_400)
        #expect(reserve(&day, 0.6, at: 10))
        day.settle(reserved: 0.6, cost: 0.5, now: 30)  // Settled in minute 0 (0-60 s).
        #expect(reserve(&day, 0.4, at: 3_600))
        day.settle(reserved: 0.4, cost: 0.4, now: 3_630)  // Minute 60.
        #expect(abs(day.spent(now: 3_700) - 0.9) < 1e-12)
        #expect(!reserve(&day, 0.2, at: 40_000), "0.9 of 1.0 spent today")
        // 24 hours after the first spend, and up to a minute more, it still counts.
        #expect(!reserve(&day, 0.2, at: 86_430))
        #expect(abs(day.spent(now: 86_459) - 0.9) < 1e-12)
        // A day after its minute ended it is gone; the later one is not.
        #expect(abs(day.spent(now: 86_460) - 0.4) < 1e-12)
        #expect(reserve(&day, 0.6, at: 86_460))
        #expect(!reserve(&day, 0.01, at: 86_461))
        day.settle(reserved: 0.6, cost: 0, now: 86_470)  // Refused by the server: not billed, all back.
        #expect(abs(day.left(now: 86_470) - 0.6) < 1e-12)
        #expect(abs(day.spent(now: 90_060) - 0.0) < 1e-12, "the minute-60 spend left a day after 3,660 s")
    }

    @Test func reservationsDoNotExpireOnlySpendingDoes() {
        var day = CostBudget(limit: 1.0, window: 86_400)
        #expect(reserve(&day, 0.8, at: 0))
        // A call still running two days later (a stuck stream) still holds its worst case.
        #expect(!reserve(&day, 0.3, at: 200_000))
        day.settle(reserved: 0.8, cost: 0.7, now: 200_000)
        #expect(abs(day.left(now: 200_001) - 0.3) < 1e-12)
        #expect(abs(day.left(now: 200_000 + 86_460) - 1.0) < 1e-12)
    }

    @Test func withoutAWindowNothingLeaves() {
        var lifetime = CostBudget(limit: 1.0)
        lifetime.settle(reserved: 0, cost: 0.9, now: 0)
        #expect(abs(lifetime.spent(now: 10_000_000) - 0.9) < 1e-12)
        #expect(!reserve(&lifetime, 0.2, at: 10_000_000))
    }

    @Test func anAccountHoldsEveryPeriodsLimitAndNeedsAPriceOnlyWhenOneIsSet() {
        let account = AccountBudget()
        #expect(account.reserve(nil, now: 0) == .success(0), "no limit: an unpriced model runs")
        account.settle(reserved: 0, cost: 0.25, now: 0)  // Spending counts before a limit is set.
        account.setLimits(lifetime: 1.0, day: 0.5)
        #expect(account.reserve(nil, now: 1) == .failure(.unpriced))
        #expect(account.reserve(0.2, now: 1) == .success(0.2))
        guard case .failure(.tooDear(let period, let limit, _, let left)) = account.reserve(0.1, now: 2) else {
            Issue.record("0.25 spent + 0.2 reserved + 0.1 is past the day's 0.5")
            return
        }
        #expect(period == .day && limit == 0.5 && abs(left - 0.05) < 1e-12)
        account.settle(reserved: 0.2, cost: 0.2, now: 3)
        // A day on, the day's budget is fresh; the lifetime's is not (0.45 of 1.0 spent).
        #expect(account.reserve(0.5, now: 86_460) == .success(0.5))
        guard case .failure(.tooDear(.lifetime, _, _, _)) = account.reserve(0.1, now: 86_461) else {
            Issue.record("0.45 spent + 0.5 reserved + 0.1 is past the lifetime's 1.0")
            return
        }
        let spent = account.snapshot(now: 86_461)
        #expect(abs(spent.lifetime - 0.45) < 1e-12 && spent.day == 0 && abs(spent.reserved - 0.5) < 1e-12)
    }
}
