namespace ModelInService; internal static class Placeholder { }
