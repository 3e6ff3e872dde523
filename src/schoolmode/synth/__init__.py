"""Synthetic populations built from real aggregate data (no real personal data)."""

from schoolmode.synth.district import SynthConfig, SyntheticDistrict, synth_absences, synth_district

__all__ = ["SynthConfig", "SyntheticDistrict", "synth_absences", "synth_district"]
