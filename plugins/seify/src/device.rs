//! What `seify_source` and `seify_sink` share: their parameters, opening the device, channel
//! lists and port names.

use futuresdr::blocks::seify::Builder;
use futuresdr::seify::{Args, Device, Driver, GenericDevice};
use weir_core::{BuildError, ParamSpec, ParamType, Params};

/// Most channels a block may stream (one stream port each).
pub const MAX_CHANNELS: usize = 8;

/// The parameters both blocks take.
pub fn params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::required(
            "args",
            ParamType::Str,
            "seify device arguments, e.g. \"driver=dummy\" or \"driver=soapy,soapy_driver=rtlsdr\"",
        ),
        ParamSpec::required("frequency", ParamType::Float, "center frequency in Hz")
            .within(0.0, 1e12),
        ParamSpec::sample_rate("sample rate in samples/s (at most 10^12)"),
        ParamSpec::float("gain", 0.0, "gain in dB").within(-1000.0, 1000.0),
        ParamSpec::string("antenna", "", "antenna name (\"\" = the device's default)"),
        ParamSpec::float(
            "bandwidth",
            0.0,
            "analog bandwidth in Hz (0 = the device's default)",
        )
        .within(0.0, 1e12),
        ParamSpec::string(
            "channels",
            "0",
            "comma-separated device channels, one stream port each: `in`/`out` for one channel, `in0`/`out0`, `in1`/`out1`, ... for several",
        ),
    ]
}

/// The device channels of parameter `channels` ("0", "0,1"): at least one, at most
/// [`MAX_CHANNELS`], no repeats.
pub fn channels(p: &Params) -> Result<Vec<usize>, BuildError> {
    let text = p.str("channels")?;
    let mut channels = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let c: usize = part.parse().map_err(|_| {
            BuildError::param(
                "channels",
                format!(
                    "expected comma-separated channel numbers like \"0\" or \"0,1\", found {text:?}"
                ),
            )
        })?;
        if channels.contains(&c) {
            return Err(BuildError::param(
                "channels",
                format!("channel {c} is listed twice in {text:?}"),
            ));
        }
        channels.push(c);
    }
    if channels.len() > MAX_CHANNELS {
        return Err(BuildError::param(
            "channels",
            format!("at most {MAX_CHANNELS} channels, found {}", channels.len()),
        ));
    }
    Ok(channels)
}

/// Port `i` of `n`: `single` when there is one, else `numbered[i]`.
pub fn port_name(
    n: usize,
    i: usize,
    single: &'static str,
    numbered: &[&'static str; MAX_CHANNELS],
) -> &'static str {
    if n == 1 { single } else { numbered[i] }
}

/// Open the device `args` names and configure it from the block's parameters.
///
/// seify falls back to its dummy driver when `args` names no driver and no other driver finds a
/// device; weir refuses that unless `args` asks for `driver=dummy`, so a missing radio is an
/// error rather than a silent stream of zeros.
pub fn builder(p: &Params) -> Result<Builder<GenericDevice>, BuildError> {
    let text = p.str("args")?;
    let args: Args = text.parse().map_err(|e| {
        BuildError::param(
            "args",
            format!("cannot parse seify arguments {text:?}: {e}"),
        )
    })?;
    let asked_dummy = args
        .get::<String>("driver")
        .is_ok_and(|d| d.eq_ignore_ascii_case("dummy"));
    let device = Device::from_args(args).map_err(|e| {
        BuildError::param(
            "args",
            format!(
                "no seify device for {text:?}: {e} (drivers built in: {})",
                drivers()
            ),
        )
    })?;
    if device.driver() == Driver::Dummy && !asked_dummy {
        return Err(BuildError::param(
            "args",
            format!(
                "no seify device for {text:?} (drivers built in: {}); say \"driver=dummy\" to use the dummy device",
                drivers()
            ),
        ));
    }
    let mut b = Builder::from_device(device)
        .channels(channels(p)?)
        .frequency(p.float("frequency")?)
        .sample_rate(p.float("sample_rate")?)
        .gain(p.float("gain")?);
    let antenna = p.str("antenna")?;
    if !antenna.is_empty() {
        b = b.antenna(antenna);
    }
    let bandwidth = p.float("bandwidth")?;
    if bandwidth > 0.0 {
        b = b.bandwidth(bandwidth);
    }
    Ok(b)
}

/// An error from configuring the device, naming it.
pub fn config_error(p: &Params, e: impl std::fmt::Display) -> BuildError {
    let args = p.str("args").unwrap_or_default();
    BuildError::Other(format!(
        "seify device {args:?}: cannot set frequency/sample rate/gain/antenna/bandwidth as given: {e}"
    ))
}

fn drivers() -> String {
    let mut names = vec!["dummy"];
    if cfg!(feature = "soapy") {
        names.push("soapy");
    }
    if cfg!(feature = "rtlsdr") {
        names.push("rtlsdr");
    }
    if cfg!(feature = "hackrf") {
        names.push("hackrf");
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::Value;

    fn with_channels(text: &str) -> Params {
        Params::new().with("channels", Value::Str(text.into()))
    }

    #[test]
    fn channel_lists() {
        assert_eq!(channels(&with_channels("0")).unwrap(), [0]);
        assert_eq!(channels(&with_channels(" 2, 0 ")).unwrap(), [2, 0]);
        for (bad, says) in [
            ("", "expected comma-separated channel numbers"),
            ("0,x", "expected comma-separated channel numbers"),
            ("-1", "expected comma-separated channel numbers"),
            ("1,1", "channel 1 is listed twice"),
            ("0,1,2,3,4,5,6,7,8", "at most 8 channels"),
        ] {
            let e = channels(&with_channels(bad)).unwrap_err().to_string();
            assert!(e.contains("`channels`") && e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_missing_device_is_an_error_not_the_dummy() {
        let p = Params::new()
            .with("args", Value::Str("".into()))
            .with("frequency", Value::Float(1e8))
            .with("sample_rate", Value::Float(1e6))
            .with("gain", Value::Float(0.0))
            .with("antenna", Value::Str(String::new()))
            .with("bandwidth", Value::Float(0.0))
            .with("channels", Value::Str("0".into()));
        let e = builder(&p).err().expect("refused").to_string();
        assert!(e.contains("say \"driver=dummy\""), "{e}");
        let p = p.with("args", Value::Str("driver=dummy".into()));
        assert!(builder(&p).is_ok());
    }
}
