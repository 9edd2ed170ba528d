"""Check-ins: loaders (shared Foursquare layouts, TSMC2014, LLM-Mob), per-user chronological split, trajectories,
venue features from the training split, and the windows a sequence model trains on."""

from .checkins import (CITY_LAYOUTS, LAYOUTS, SPLIT_NAMES, CheckIns, SkipLog, chronological_split, decode_plus_code,
                       load_checkins, trajectory_ids)
from .features import HOURS_PER_WEEK, VenueFeatures, hour_of_week, venue_features

__all__ = ["CITY_LAYOUTS", "CheckIns", "HOURS_PER_WEEK", "LAYOUTS", "SPLIT_NAMES", "SkipLog", "VenueFeatures",
           "chronological_split", "decode_plus_code", "hour_of_week", "load_checkins", "trajectory_ids",
           "venue_features"]
