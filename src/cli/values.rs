//! The flags' choices: the domain's enums as clap reads and lists them.
//! The enums themselves know nothing of the command line.

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::cluster::Debias;
use crate::embed::{DeviceChoice, Engine, Precision};

/// A flag value with its help line.
fn value(name: &'static str, help: &'static str) -> Option<PossibleValue> {
    Some(PossibleValue::new(name).help(help))
}

impl ValueEnum for Debias {
    fn value_variants<'a>() -> &'a [Self] {
        &[Debias::Align, Debias::Joint, Debias::Mean, Debias::None]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Debias::Align => "Each language turned onto the others, then offsets fitted jointly with the clusters (default)",
            Debias::Joint => "Language offsets fitted jointly with the clusters",
            Debias::Mean => "Subtract each language's mean vector once",
            Debias::None => "Plain k-means on the model's vectors (groups by language)",
        };
        value(self.name(), help)
    }
}

impl ValueEnum for DeviceChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            DeviceChoice::Auto,
            DeviceChoice::Cpu,
            DeviceChoice::Cuda,
            DeviceChoice::Metal,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            DeviceChoice::Auto => value("auto", "A GPU where there is one, else the CPU"),
            DeviceChoice::Cpu => value("cpu", "The CPU"),
            DeviceChoice::Cuda => value("cuda", "An NVIDIA GPU (a build with `--features cuda`)"),
            DeviceChoice::Metal => value("metal", "An Apple GPU (a build with `--features metal`)"),
        }
    }
}

impl ValueEnum for Precision {
    fn value_variants<'a>() -> &'a [Self] {
        &[Precision::F32, Precision::Bf16, Precision::Int8]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            Precision::F32 => value("f32", "32-bit floats throughout"),
            Precision::Bf16 => value("bf16", "bfloat16 matrix products, accumulated in f32"),
            Precision::Int8 => value(
                "int8",
                "int8 dense layers with i32 accumulation (AVX512-VNNI, AVX-VNNI); bench-* only",
            ),
        }
    }
}

impl ValueEnum for Engine {
    fn value_variants<'a>() -> &'a [Self] {
        &[Engine::Auto, Engine::Native, Engine::Candle]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            Engine::Auto => value("auto", "Native on the CPU, candle on a GPU"),
            Engine::Native => value("native", "The native CPU encoder"),
            Engine::Candle => value("candle", "candle-transformers' BERT"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_parses_back_to_itself_under_its_recorded_name() {
        // The flag's value is also the name run.json records.
        fn round_trip<T: ValueEnum + PartialEq + std::fmt::Debug + serde::Serialize>() {
            for v in T::value_variants() {
                let name = v.to_possible_value().unwrap().get_name().to_string();
                assert_eq!(&T::from_str(&name, false).unwrap(), v, "{name}");
                assert_eq!(serde_json::to_value(v).unwrap(), name.as_str());
            }
        }
        round_trip::<Debias>();
        round_trip::<DeviceChoice>();
        round_trip::<Precision>();
        round_trip::<Engine>();
    }
}
