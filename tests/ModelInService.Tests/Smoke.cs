namespace ModelInService.Tests; public class SmokeTests { [Xunit.Fact] public void Smoke() { Xunit.Assert.True(true); } }
