use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use gust_core::Error;

/// A parsed cron expression in a time zone.
pub struct CronSchedule {
    schedule: ::cron::Schedule,
    timezone: Tz,
}

impl CronSchedule {
    /// Six fields with seconds (`*/10 * * * * *`), seven with a year, or the classic five
    /// (minute first, fired at second 0). The time zone is an IANA name; UTC when absent.
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Self, Error> {
        let fields = expression.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expression}"),
            6 | 7 => expression.to_string(),
            _ => {
                return Err(Error::invalid(format!(
                    "cron expression `{expression}` has {fields} fields: use 5 (minute hour \
                     day month weekday), or 6 or 7 with seconds first"
                )));
            }
        };
        check_ranges(expression, &full)?;
        let schedule = ::cron::Schedule::from_str(&full).map_err(|e| {
            Error::invalid(format!(
                "cron expression `{expression}` does not parse: {e}"
            ))
        })?;
        let timezone = match timezone {
            None => Tz::UTC,
            Some(name) => name.parse().map_err(|_| {
                Error::invalid(format!(
                    "unknown time zone `{name}`: use an IANA name like Europe/Paris or UTC"
                ))
            })?,
        };
        Ok(CronSchedule { schedule, timezone })
    }

    pub fn timezone_name(&self) -> &'static str {
        self.timezone.name()
    }

    /// The first firing strictly after `after_ms` (ms since the epoch), if any.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after: DateTime<Tz> = Utc
            .timestamp_millis_opt(after_ms)
            .single()?
            .with_timezone(&self.timezone);
        self.schedule
            .after(&after)
            .next()
            .map(|at| at.timestamp_millis())
    }
}

/// The fields with numeric ranges, in the order of a six-field expression.
const RANGES: [(&str, u32, u32); 5] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of the month", 1, 31),
    ("month", 1, 12),
];

/// Checks the numbers of the fields with plain ranges (not steps, names or the weekday) and
/// says which field is out of range and what it takes.
fn check_ranges(expression: &str, full: &str) -> Result<(), Error> {
    for (field, (name, low, high)) in full.split_whitespace().zip(RANGES) {
        // A step (`*/90`) is not a value of the field.
        let values = field
            .split(',')
            .flat_map(|part| part.split('/').next())
            .flat_map(|part| part.split('-'));
        for value in values {
            let Ok(number) = value.parse::<u32>() else {
                continue;
            };
            if !(low..=high).contains(&number) {
                return Err(Error::invalid(format!(
                    "cron expression `{expression}`: the {name} {number} is out of range: use {low} to {high}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_classic_forms() {
        let every_ten = CronSchedule::parse("*/10 * * * * *", None).unwrap();
        assert_eq!(every_ten.next_after(1_000), Some(10_000));
        assert_eq!(every_ten.next_after(10_000), Some(20_000));
        let hourly = CronSchedule::parse("0 * * * *", None).unwrap();
        assert_eq!(hourly.next_after(1_000), Some(3_600_000));
    }

    #[test]
    fn time_zones_shift_the_firings() {
        // 09:00 in Paris is 08:00 UTC in January.
        let nine = CronSchedule::parse("0 0 9 * * *", Some("Europe/Paris")).unwrap();
        assert_eq!(nine.timezone_name(), "Europe/Paris");
        assert_eq!(nine.next_after(0), Some(8 * 3_600_000));
    }

    #[test]
    fn errors_say_why() {
        let fields = CronSchedule::parse("* *", None).err().unwrap().message;
        assert!(fields.contains("2 fields"), "{fields}");
        let range = CronSchedule::parse("60 * * * *", None)
            .err()
            .unwrap()
            .message;
        assert!(
            range.contains("the minute 60 is out of range: use 0 to 59"),
            "{range}"
        );
        let range = CronSchedule::parse("0 0 25 * * *", None)
            .err()
            .unwrap()
            .message;
        assert!(
            range.contains("the hour 25 is out of range: use 0 to 23"),
            "{range}"
        );
        let parse = CronSchedule::parse("x * * * * *", None)
            .err()
            .unwrap()
            .message;
        assert!(parse.contains("does not parse"), "{parse}");
        let zone = CronSchedule::parse("* * * * *", Some("Mars/Olympus"))
            .err()
            .unwrap()
            .message;
        assert!(zone.contains("unknown time zone"), "{zone}");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn field(max: u32) -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_string()),
            (0..max).prop_map(|n| n.to_string()),
            (1..max.max(2)).prop_map(|n| format!("*/{n}")),
            (0..max, 0..max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        ]
    }

    proptest! {
        #[test]
        fn any_text_and_zone_are_read_or_refused_without_panicking(
            expression in "\\PC{0,60}",
            zone in prop::option::of("\\PC{0,30}"),
        ) {
            if let Ok(schedule) = CronSchedule::parse(&expression, zone.as_deref()) {
                let _ = schedule.next_after(0);
            }
        }

        #[test]
        fn a_valid_schedule_fires_after_the_time_it_is_asked_about(
            fields in (field(60), field(60), field(24), Just("*".to_string()), field(12)),
            zone in prop::sample::select(vec!["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),
            after in 0i64..4_000_000_000_000,
        ) {
            let (second, minute, hour, day, month) = fields;
            let month = if month == "0" { "1".to_string() } else { month.replace("0-", "1-") };
            let expression = format!("{second} {minute} {hour} {day} {month} *");
            let schedule = CronSchedule::parse(&expression, Some(zone));
            prop_assume!(schedule.is_ok());
            if let Some(next) = schedule.unwrap().next_after(after) {
                prop_assert!(next > after, "{expression} in {zone}: {next} <= {after}");
            }
        }
    }
}
