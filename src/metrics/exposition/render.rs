//! Writing families back out, in the text or the OpenMetrics format.
