//! Run-time choice of instruction set for the hand-vectorized loops (the
//! encoder's element-wise kernels, the clustering distances). Each such
//! function is compiled once per level and the best level the CPU has is
//! picked once per process, so one binary runs everywhere and uses wide
//! vectors where they exist.
//!
//! `CROSSTHEMES_SIMD=avx512|avx2|baseline` caps the level, so the AVX2 and
//! baseline paths can be measured and tested on an AVX-512 machine too. A
//! level the CPU lacks is never chosen: the cap only lowers.

use std::sync::OnceLock;

/// An instruction-set level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Whatever the target's baseline offers (SSE2 on x86-64, NEON on Arm).
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 F/BW/DQ/VL.
    Avx512,
}

impl Level {
    fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" => Some(Level::Avx512),
            "avx2" => Some(Level::Avx2),
            "baseline" => Some(Level::Baseline),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "AVX2",
            Level::Avx512 => "AVX-512",
        })
    }
}

/// The best level this CPU supports.
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// The level in use: [`detected`], capped by `CROSSTHEMES_SIMD`.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        capped(
            detected(),
            std::env::var("CROSSTHEMES_SIMD").ok().as_deref(),
        )
    })
}

/// `best` lowered to the level `cap` names; a cap above `best` or one that
/// names no level (with a warning) leaves it as it is.
fn capped(best: Level, cap: Option<&str>) -> Level {
    let Some(name) = cap else {
        return best;
    };
    match Level::parse(name) {
        Some(cap) => best.min(cap),
        None => {
            tracing::warn!(
                "CROSSTHEMES_SIMD={name:?} is not one of avx512, avx2, baseline; using {best:?}"
            );
            best
        }
    }
}

/// Defines `pub fn $name` that runs `$body` compiled for the level
/// [`level`] picks.
macro_rules! dispatch {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? { portable($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { portable($($arg),*) }
                match $crate::simd::level() {
                    // SAFETY: `level` only returns a level the CPU has.
                    $crate::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Baseline => {}
                }
            }
            portable($($arg),*)
        }
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_the_cap_only_lowers() {
        assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::parse("sse9"), None);
        assert_eq!(capped(Level::Avx512, Some("avx2")), Level::Avx2);
        assert_eq!(capped(Level::Avx512, Some("baseline")), Level::Baseline);
        assert_eq!(
            capped(Level::Avx2, Some("avx512")),
            Level::Avx2,
            "never raised"
        );
        assert_eq!(capped(Level::Avx2, Some("sse9")), Level::Avx2);
        assert_eq!(capped(Level::Avx512, None), Level::Avx512);
    }
}
