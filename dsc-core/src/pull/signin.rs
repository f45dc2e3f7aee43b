//! Sign-in throttling: how many failed attempts pass at once, and how long each later attempt
//! waits. One schedule per address (any name) and one per name (any address), so that neither
//! spraying passwords over many names from one address nor guessing one name from many
//! addresses goes fast, while the right password goes through as soon as the current delay
//! has passed.

/// A throttle schedule: the first `free` attempts pass at once; after that each attempt must
/// come more than 1 s, 2 s, 4 s ... (at most `max_delay_secs`) after the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Attempts that pass without waiting.
    pub free: u32,
    /// The longest wait between two attempts, in seconds.
    pub max_delay_secs: u32,
}

/// Attempts from one client address, whatever the name. Generous, since many people may
/// share an address (a NAT, a proxy), but a spray over many names is slowed down.
pub const PER_ADDRESS: Throttle = Throttle {
    free: 20,
    max_delay_secs: 256,
};

/// Attempts at one name, from any address. The delay is capped low so that someone guessing
/// at a name cannot keep its owner out for long.
pub const PER_NAME: Throttle = Throttle {
    free: 5,
    max_delay_secs: 32,
};

impl Throttle {
    /// The wait in seconds required after `claimed` attempts (0 for the free ones).
    pub fn delay_secs(&self, claimed: u32) -> u32 {
        match claimed.checked_sub(self.free) {
            None => 0,
            Some(over) => 1u32
                .checked_shl(over.min(31))
                .unwrap_or(u32::MAX)
                .min(self.max_delay_secs),
        }
    }

    /// Whether one more attempt may go ahead now, after `claimed` attempts of which the last
    /// was at `last` (whole seconds). Times are whole seconds, so the attempt must come in a
    /// later second than `last + delay`: the wait is never shorter than the delay.
    /// `None` when it may go ahead, else the seconds still to wait (at least 1).
    pub fn wait(&self, claimed: u32, last: i64, now: i64) -> Option<i64> {
        let ready = last.saturating_add(i64::from(self.delay_secs(claimed)));
        if claimed < self.free || ready < now {
            None
        } else {
            Some(ready.saturating_add(1).saturating_sub(now).max(1))
        }
    }

    /// The delay as one SQL expression over an integer column `failures`, for a conditional
    /// update that claims an attempt atomically (`... WHERE last_at + <this> < now`).
    pub fn delay_sql(&self) -> String {
        let mut sql = format!("(CASE WHEN failures < {} THEN 0", self.free);
        let mut over = 0u32;
        loop {
            let delay = self.delay_secs(self.free.saturating_add(over));
            if delay >= self.max_delay_secs || over >= 31 {
                break;
            }
            sql.push_str(&format!(
                " WHEN failures = {} THEN {delay}",
                u64::from(self.free) + u64::from(over)
            ));
            over += 1;
        }
        sql.push_str(&format!(" ELSE {} END)", self.max_delay_secs));
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_attempts_pass_then_the_delay_doubles_up_to_its_cap() {
        let t = Throttle {
            free: 3,
            max_delay_secs: 8,
        };
        assert_eq!(
            (0..9).map(|n| t.delay_secs(n)).collect::<Vec<_>>(),
            [0, 0, 0, 1, 2, 4, 8, 8, 8]
        );
        assert_eq!(t.delay_secs(u32::MAX), 8);
    }

    #[test]
    fn an_attempt_waits_until_a_later_second_than_the_delay() {
        let t = Throttle {
            free: 3,
            max_delay_secs: 8,
        };
        assert_eq!(t.wait(2, 100, 100), None);
        assert_eq!(t.wait(3, 100, 100), Some(2));
        assert_eq!(t.wait(3, 100, 101), Some(1));
        assert_eq!(t.wait(3, 100, 102), None);
        assert_eq!(t.wait(100, 100, 108), Some(1));
        assert_eq!(t.wait(100, 100, 109), None);
    }

    #[test]
    fn the_sql_delay_names_every_step_below_the_cap() {
        let t = Throttle {
            free: 3,
            max_delay_secs: 8,
        };
        assert_eq!(
            t.delay_sql(),
            "(CASE WHEN failures < 3 THEN 0 WHEN failures = 3 THEN 1 WHEN failures = 4 THEN 2 \
             WHEN failures = 5 THEN 4 ELSE 8 END)"
        );
    }
}
